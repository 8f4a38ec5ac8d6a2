"""Secrets never leave for the store, the OTLP collector or the logs: redaction by value.

A run is given keys, tokens and credentials in many ways: agent parameters (``api_key``),
request headers (``extra_headers={"Authorization": "Bearer ..."}``), credentials inside a URL
(``http://user:pass@host/v1?api-key=...``) and the provider variables litellm reads
(``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, ...). The session registers the first three with
``register``; the environment is read at every redaction. ``redact`` replaces each known
value wherever it appears in a string: an error text that quotes a header, a URL in a
parameter dump, a span's status message. The store (``traces.store``, ``traces.spans``), the
OTLP sink and log records call it where strings leave; a name filter alone
(``sandbox.recorder.without_secrets``) cannot see a key inside a message.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

REDACTED = "[redacted]"
MIN_SECRET = 8  # shorter values ("1", "true", "none") would redact ordinary text; real keys are longer
SECRET_NAME = re.compile(
    r"(api_?key|apikey|token$|secret|password|passwd|credential|authorization|auth$|cookie|signature|^sig$)",
    re.IGNORECASE,
)  # token$: not max_tokens, token_budget
HEADER_NAMES = re.compile(r"headers?$", re.IGNORECASE)  # every value of a headers mapping is treated as secret
ENV_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH)", re.IGNORECASE)

_lock = threading.Lock()
_registered: set[str] = set()


def _variants(value: str) -> Iterator[str]:
    value = value.strip()
    if len(value) >= MIN_SECRET:
        yield value
    scheme, _, rest = value.partition(" ")  # "Bearer sk-..." / "Basic ...": the credential alone too
    if rest and scheme.isalpha() and len(rest.strip()) >= MIN_SECRET:
        yield rest.strip()


def url_secrets(text: str) -> list[str]:
    """Credentials inside a URL: the password (and user) of ``user:pass@host``, secret-named query values."""
    if "://" not in text:
        return []
    try:
        parts = urlsplit(text.strip())
    except ValueError:
        return []
    out = [v for v in (parts.password, parts.username if parts.password else None) if v]
    out += [v for k, v in parse_qsl(parts.query) if SECRET_NAME.search(k.replace("-", "_"))]
    return [v for v in out if len(v) >= MIN_SECRET]


def secrets_in(value: Any, secret: bool = False) -> Iterator[str]:
    """Every secret-looking string in ``value`` (nested mappings and lists), by name, header or URL."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            name = str(k)
            yield from secrets_in(v, secret or bool(SECRET_NAME.search(name)) or bool(HEADER_NAMES.search(name)))
    elif isinstance(value, (list, tuple, set)):
        for v in value:
            yield from secrets_in(v, secret)
    elif isinstance(value, str):
        if secret:
            yield from _variants(value)
        yield from url_secrets(value)


def register(*values: Any) -> None:
    """Remember the secrets found in ``values`` (agent parameters, call settings) for every later redaction."""
    found = {s for v in values for s in secrets_in(v)}
    if found - _registered:
        with _lock:
            _registered.update(found)
    install_log_redaction()


def env_secrets(environ: Mapping[str, str] | None = None) -> set[str]:
    """Values of the environment variables whose names say key, token, secret, password or credential."""
    env = os.environ if environ is None else environ
    return {v for k, raw in env.items() if ENV_NAME.search(k) for v in _variants(raw)}


def known() -> list[str]:
    """Every secret redaction looks for now, longest first (so a key is not half-replaced by a part of it)."""
    return sorted(_registered | env_secrets(), key=len, reverse=True)


def redact(text: str, secrets: Iterable[str] | None = None) -> str:
    """``text`` with every known secret replaced by ``[redacted]``."""
    for s in known() if secrets is None else secrets:
        if s in text:
            text = text.replace(s, REDACTED)
    return text


def cap_text(text: str | None, limit: int = 2000) -> str | None:
    """``text`` cut to ``limit`` characters, saying how much was cut (an agent's exception can be megabytes)."""
    if text is None or len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit:,} more characters cut]"


def redact_value(value: Any, secrets: list[str]) -> Any:
    """``value`` with secrets redacted in every string inside it (mappings and sequences copied)."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, Mapping):
        return {k: redact_value(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_value(v, secrets) for v in value)
    return value


def redact_rows(rows: Iterable[dict[str, Any]], secrets: list[str] | None = None) -> None:
    """Redact every string column of ``rows`` in place (the store's batches); ``secrets``: ``known()`` if None."""
    secrets = known() if secrets is None else secrets
    if not secrets:
        return
    for row in rows:
        for k, v in row.items():
            if isinstance(v, str):
                for s in secrets:
                    if s in v:
                        row[k] = v = v.replace(s, REDACTED)


def redact_tuples(rows: list[tuple[Any, ...]], secrets: list[str] | None = None) -> None:
    """``redact_rows`` for rows held as tuples: each row with a secret in a string is replaced in the list."""
    secrets = known() if secrets is None else secrets
    if not secrets:
        return
    for i, row in enumerate(rows):
        if any(s in v for v in row if isinstance(v, str) for s in secrets):
            rows[i] = tuple(redact(v, secrets) if isinstance(v, str) else v for v in row)


def redact_spans(spans: Iterable[Any]) -> list[Any]:
    """``redact_span`` over a batch (the known secrets are looked up once)."""
    secrets = known()
    return [redact_span(s, secrets) for s in spans] if secrets else list(spans)


def redact_span(span: Any, secrets: list[str] | None = None) -> Any:
    """A copy of an SDK ``ReadableSpan`` with secrets redacted from its attributes, status and events."""
    secrets = known() if secrets is None else secrets
    if not secrets:
        return span
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.trace import Status

    status = span.status
    if status is not None and status.description:
        status = Status(status.status_code, redact(status.description, secrets))
    events = [Event(e.name, redact_value(dict(e.attributes or {}), secrets), e.timestamp) for e in span.events]
    return ReadableSpan(
        name=redact(span.name, secrets),
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=redact_value(dict(span.attributes or {}), secrets),
        events=events,
        links=span.links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


_factory_installed = False


def install_log_redaction() -> None:
    """Redact every log record made from now on (messages are formatted first, then redacted); idempotent."""
    global _factory_installed
    with _lock:
        if _factory_installed:
            return
        _factory_installed = True
        previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        secrets = known()
        if secrets:
            try:
                message = record.getMessage()
            except Exception:  # noqa: BLE001  (a broken format string is logging's to report)
                return record
            clean = redact(message, secrets)
            if clean != message:
                record.msg, record.args = clean, None
        return record

    logging.setLogRecordFactory(factory)
