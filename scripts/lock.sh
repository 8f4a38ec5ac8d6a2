#!/usr/bin/env bash
# Move the lock forward: re-resolve every dependency within pyproject.toml's ranges and write
# the exact versions, with hashes, that a fresh clone will install.
#   requirements.lock       what `pip install -e .` needs (the demo command)
#   requirements-test.lock  that plus the test, ray and bench extras (the test command, CI)
# Then run the suite (README's test command) before committing the two files.
# Needs uv (`pip install uv`); pass --upgrade to take the newest versions allowed.
set -euo pipefail
cd "$(dirname "$0")/.."
common=(--universal --python-version 3.11 --generate-hashes --no-header --quiet "$@")
uv pip compile pyproject.toml "${common[@]}" -o requirements.lock
uv pip compile pyproject.toml --extra test --extra ray --extra bench "${common[@]}" -o requirements-test.lock
echo "wrote requirements.lock ($(grep -c '==' requirements.lock) packages) and requirements-test.lock ($(grep -c '==' requirements-test.lock) packages)"
