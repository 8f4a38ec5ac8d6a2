#!/usr/bin/env bash
# The optional job: run the suite against the newest releases pyproject.toml's ranges allow,
# ignoring the lock, in a venv of its own (.venv-newest). A failure here is news about an
# upcoming release, not a broken main: fix it, then move the lock (scripts/lock.sh --upgrade).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-newest && . .venv-newest/bin/activate
pip install -q --upgrade --upgrade-strategy eager -e ".[test,ray,bench]"
pip list --format freeze | grep -i -E '^(litellm|langgraph|pydantic|sqlmodel|sqlalchemy|streamlit|opentelemetry-sdk|openai|httpx)=='
python -m pytest "$@"
