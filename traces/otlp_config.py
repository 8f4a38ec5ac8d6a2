"""Where and how OTLP export goes: the standard ``OTEL_EXPORTER_OTLP_*`` variables, read once per sink.

The traces-specific variable wins over the general one (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``
over ``OTEL_EXPORTER_OTLP_ENDPOINT``, and so on for protocol, headers and timeout), as the
OpenTelemetry specification says. Protocols: ``http/protobuf`` (the default) and ``grpc``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

TRACES_PATH = "/v1/traces"
PROTOCOLS = ("http/protobuf", "grpc")
DEFAULT_TIMEOUT = 2.0
"""Seconds per export request, retries included. Shorter than the SDK's 10 s: a run never waits on a collector."""


class OtlpConfigError(ValueError):
    """The OTLP settings cannot be used; the message names the variable and what it accepts."""


def _env(name: str) -> str | None:
    """``OTEL_EXPORTER_OTLP_TRACES_<name>`` or else ``OTEL_EXPORTER_OTLP_<name>`` (empty counts as unset)."""
    return os.environ.get(f"OTEL_EXPORTER_OTLP_TRACES_{name}") or os.environ.get(f"OTEL_EXPORTER_OTLP_{name}") or None


def otlp_endpoint_from_env() -> str | None:
    """The traces endpoint the standard variables name, if any."""
    return _env("ENDPOINT")


def traces_url(endpoint: str) -> str:
    """Turn a collector base URL (``http://host:4318``) into its traces URL; full URLs pass."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith(TRACES_PATH) else endpoint + TRACES_PATH


def parse_headers(raw: str | None) -> dict[str, str]:
    """``key1=value1,key2=value2`` (values URL-encoded), the form the specification gives."""
    out: dict[str, str] = {}
    for part in (raw or "").split(","):
        if "=" in part:
            key, value = part.split("=", 1)
            if key.strip():
                out[unquote(key.strip()).lower()] = unquote(value.strip())
    return out


def parse_timeout(raw: str | None) -> float | None:
    """A timeout variable in seconds.

    The specification gives milliseconds, the Python SDK's exporters read seconds; a value above
    120 can only mean milliseconds (no one waits minutes per request), so it is read as such.
    """
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError as err:
        raise OtlpConfigError(f"OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT={raw!r} is not a number of seconds") from err
    return value / 1000.0 if value > 120 else value


@dataclass(frozen=True)
class OtlpConfig:
    """Resolved export settings: protocol, endpoint (a URL), headers, timeout in seconds."""

    protocol: str
    endpoint: str
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) of the collector, for the cheap reachability probe."""
        parts = urlsplit(self.endpoint)
        default = 443 if parts.scheme == "https" else (4317 if self.protocol == "grpc" else 4318)
        return parts.hostname or "localhost", parts.port or default

    @property
    def key(self) -> str:
        """What tells two sinks apart (one worker thread per distinct collector and settings)."""
        return f"{self.protocol} {self.endpoint} {sorted(self.headers.items())} {self.timeout}"


def resolve(endpoint: str | None = None, protocol: str | None = None, timeout: float | None = None) -> OtlpConfig:
    """The settings for an exporter: arguments first, then the standard variables, then the defaults.

    ``endpoint`` is a collector base URL or, for HTTP, a full traces URL. A base URL from
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` gets ``/v1/traces`` appended for HTTP; the traces variable
    is used as it is.
    """
    proto = (protocol or _env("PROTOCOL") or "http/protobuf").strip().lower()
    if proto not in PROTOCOLS:
        raise OtlpConfigError(
            f"OTLP protocol {proto!r} is not supported; set OTEL_EXPORTER_OTLP_PROTOCOL to one of {', '.join(PROTOCOLS)}"
        )
    traces_env = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or None
    base_env = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None
    url = (
        endpoint or traces_env or base_env or ("http://localhost:4317" if proto == "grpc" else "http://localhost:4318")
    )
    if "://" not in url:
        url = "http://" + url  # host:port, as gRPC users often write it
    if proto == "http/protobuf" and (endpoint is not None or traces_env is None):
        url = traces_url(url)
    if proto == "grpc":
        parts = urlsplit(url)
        url = f"{parts.scheme}://{parts.netloc}"  # gRPC has no path: the service name routes the call
    secs = timeout if timeout is not None else parse_timeout(_env("TIMEOUT"))
    return OtlpConfig(proto, url, parse_headers(_env("HEADERS")), secs if secs is not None else DEFAULT_TIMEOUT)
