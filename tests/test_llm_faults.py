"""Fault kinds come from exception types, status codes and the exception chain, not message text.

Each litellm exception class is built as litellm builds it, with a message chosen to mislead a
text match, and a real litellm call to a closed loopback port gives the chain litellm really
raises (which differs between releases)."""

from __future__ import annotations

import asyncio
import socket

import httpx
import litellm
import openai
import pytest

from agents.llm.faults import RETRYABLE, classify

REQ = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")


def _resp(status: int) -> httpx.Response:
    return httpx.Response(status, request=REQ)


MISLEADING = "Connection error. timeout rate limit"  # text that a message-matching classifier would misread

CASES = [
    (lambda: litellm.Timeout(MISLEADING, model="m", llm_provider="openai"), "timeout"),
    (lambda: litellm.RateLimitError(MISLEADING, llm_provider="openai", model="m", response=_resp(429)), "rate_limited"),
    (lambda: litellm.AuthenticationError(MISLEADING, llm_provider="openai", model="m", response=_resp(401)), "auth"),
    (lambda: litellm.PermissionDeniedError(MISLEADING, llm_provider="openai", model="m", response=_resp(403)), "auth"),
    (lambda: litellm.BadRequestError(MISLEADING, model="m", llm_provider="openai", response=_resp(400)), "bad_request"),
    (lambda: litellm.NotFoundError(MISLEADING, model="m", llm_provider="openai", response=_resp(404)), "bad_request"),
    (
        lambda: litellm.UnprocessableEntityError(MISLEADING, model="m", llm_provider="openai", response=_resp(422)),
        "bad_request",
    ),
    (lambda: litellm.ContextWindowExceededError(MISLEADING, model="m", llm_provider="openai"), "bad_request"),
    (lambda: litellm.ContentPolicyViolationError(MISLEADING, model="m", llm_provider="openai"), "bad_request"),
    (lambda: litellm.UnsupportedParamsError(MISLEADING, llm_provider="openai", model="m"), "bad_request"),
    (
        lambda: litellm.InternalServerError("upstream failed", llm_provider="openai", model="m", response=_resp(500)),
        "server_error",
    ),
    (
        lambda: litellm.ServiceUnavailableError(MISLEADING, llm_provider="openai", model="m", response=_resp(503)),
        "server_error",
    ),
    (
        lambda: litellm.BadGatewayError(MISLEADING, llm_provider="openai", model="m", response=_resp(502)),
        "server_error",
    ),
    (lambda: litellm.APIError(500, MISLEADING, llm_provider="openai", model="m"), "server_error"),
    (lambda: litellm.APIConnectionError("no route", llm_provider="openai", model="m", request=REQ), "connection"),
    # an answer that does not parse: litellm gives it status 500, a provider-side fault worth a retry
    (lambda: litellm.APIResponseValidationError(MISLEADING, llm_provider="openai", model="m"), "server_error"),
    (lambda: ValueError(MISLEADING), "error"),
    (lambda: TimeoutError(), "timeout"),
    (lambda: ConnectionRefusedError(111, "refused"), "connection"),
]


@pytest.mark.parametrize(("make", "kind"), CASES, ids=[k + str(i) for i, (_, k) in enumerate(CASES)])
def test_each_litellm_exception_type_has_its_kind(make, kind) -> None:
    assert classify(make()) == kind


def _raised_from(outer: BaseException, inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as e:
            raise outer from e
    except BaseException as caught:
        return caught


def test_a_connection_failure_labelled_500_is_a_connection_fault() -> None:
    # litellm >= 1.7x reports a refused connection as InternalServerError(500, "Connection error.") raised from
    # the OpenAI SDK's APIConnectionError, itself from the transport's error
    inner = _raised_from(openai.APIConnectionError(request=REQ), httpx.ConnectError("refused"))
    outer = _raised_from(
        litellm.InternalServerError("anything", llm_provider="openai", model="m", response=_resp(500)), inner
    )
    assert classify(outer) == "connection"
    timed_out = _raised_from(
        litellm.InternalServerError("x", llm_provider="openai", model="m"), httpx.ReadTimeout("slow")
    )
    assert classify(timed_out) == "timeout"


def test_kinds_worth_a_retry() -> None:
    assert RETRYABLE == {"rate_limited", "server_error", "timeout", "connection"}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed once the with block ends


def test_real_litellm_call_to_a_closed_port_is_a_connection_fault() -> None:
    port = _closed_port()

    async def call() -> BaseException:
        try:
            await litellm.acompletion(
                model="openai/x",
                api_key="sk-test",
                api_base=f"http://127.0.0.1:{port}/v1",
                messages=[{"role": "user", "content": "hi"}],
                max_retries=0,
                timeout=5,
            )
        except Exception as err:
            return err
        raise AssertionError("a closed port answered")

    assert classify(asyncio.run(call())) == "connection"
