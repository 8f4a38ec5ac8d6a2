"""OpenTelemetry spans of a session (``tracer``) and the do-nothing tracer (``off``)."""

from sandbox.tracing.off import NoTracer
from sandbox.tracing.tracer import SCOPE, SessionTracer, session_tracer

__all__ = ["SCOPE", "NoTracer", "SessionTracer", "session_tracer"]
