"""The stand-in model served as an OpenAI-compatible HTTP server on loopback, with fault injection.

A STAND-IN, not a language model: answers come from ``agents.llm.scripted_model.answer``.
It exists so tests and benchmarks drive the real litellm HTTP path (``openai/<anything>`` with
``api_base=http://127.0.0.1:PORT/v1``). The model name picks the strategy as for
``scripted/<strategy>``; other names (``gpt-4o-mini``) play the persona's strategy, and let
litellm price the call as that model would be priced.

Faults (rates from 0 to 1, drawn per request from the seed, the request and how many times
the same request was seen, so a retry can succeed): HTTP 429, HTTP 500, hangs, and in the
answer body malformed tool-call JSON, refusals, empty answers and out-of-band prices.
Latency is fixed (``latency``) or drawn (``latency_dist``: ``uniform:LO,HI``, ``exp:MEAN``,
``normal:MEAN,SD``). ``GET /stats`` reports counts; ``POST /control/faults`` changes faults live.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections import Counter
from dataclasses import asdict, dataclass, fields, replace

from aiohttp import web

from agents.llm.scripted_model import Faults, answer, request_key

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class ServerFaults:
    """What the server does wrong, and how slowly it answers."""

    latency: float = 0.0
    latency_dist: str | None = None
    rate_429: float = 0.0
    rate_500: float = 0.0
    hang: float = 0.0
    hang_seconds: float = 300.0
    malformed: float = 0.0
    refusal: float = 0.0
    empty: float = 0.0
    invalid: float = 0.0
    seed: int = 0

    def body_faults(self) -> Faults:
        """The faults the stand-in puts in an answer's body."""
        return Faults(self.malformed, self.refusal, self.empty, self.invalid, self.seed)

    def delay(self, rng: random.Random) -> float:
        """Seconds to wait before answering."""
        if not self.latency_dist:
            return self.latency
        kind, _, args = self.latency_dist.partition(":")
        nums = [float(x) for x in args.split(",") if x.strip()]
        if kind == "uniform" and len(nums) == 2:
            return rng.uniform(nums[0], nums[1])
        if kind == "exp" and len(nums) == 1:
            return rng.expovariate(1 / nums[0]) if nums[0] > 0 else 0.0
        if kind == "normal" and len(nums) == 2:
            return max(0.0, rng.gauss(nums[0], nums[1]))
        raise ValueError(f"latency_dist must be uniform:LO,HI, exp:MEAN or normal:MEAN,SD, got '{self.latency_dist}'")

    def http_fault(self, rng: random.Random) -> str | None:
        """429, 500, hang or None for one request."""
        x = rng.random()
        for kind, rate in (("429", self.rate_429), ("500", self.rate_500), ("hang", self.hang)):
            if x < rate:
                return kind
            x -= rate
        return None


def _error(status: int, message: str, kind: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": kind, "code": str(status)}}, status=status)


class ModelServer:
    """An aiohttp app serving the stand-in; run it in a thread (tests) or in the foreground (CLI)."""

    def __init__(self, faults: ServerFaults | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        if host not in LOOPBACK and not host.startswith("127."):
            raise ValueError(f"the stand-in server listens on loopback only; use 127.0.0.1 instead of '{host}'")
        self.faults = faults or ServerFaults()
        self.host, self.port = host, port
        self.stats: Counter[str] = Counter()
        self.in_flight = 0
        self.peak_in_flight = 0
        self.max_tokens_seen: Counter[object] = Counter()  # the completion cap of each request (None: none sent)
        self._seen: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        """The ``api_base`` to give litellm."""
        return f"http://{self.host}:{self.port}/v1"

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/stats", self._stats)
        app.router.add_post("/control/faults", self._set_faults)
        return app

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        self.stats["requests"] += 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
            messages, model = body["messages"], str(body.get("model", "zi_c"))
        except (ValueError, KeyError, TypeError):
            self.stats["bad_request"] += 1
            return _error(400, "the body must be JSON with 'model' and 'messages'", "invalid_request_error")
        seed = body.get("seed")
        self.max_tokens_seen[body.get("max_tokens", body.get("max_completion_tokens"))] += 1
        key = request_key(messages, seed, model)
        nth = self._seen.get(key, 0)
        self._seen[key] = nth + 1
        if len(self._seen) > 200_000:
            self._seen.clear()
        f = self.faults
        rng = random.Random(f"{f.seed}/http/{key}/{nth}")
        wait = f.delay(rng)
        if wait > 0:
            await asyncio.sleep(wait)
        kind = f.http_fault(rng)
        if kind == "429":
            self.stats["fault_429"] += 1
            return _error(429, "rate limit reached (stand-in fault injection)", "rate_limit_exceeded")
        if kind == "500":
            self.stats["fault_500"] += 1
            return _error(500, "internal error (stand-in fault injection)", "server_error")
        if kind == "hang":
            self.stats["fault_hang"] += 1
            await asyncio.sleep(f.hang_seconds)
        out = answer(model, messages, seed, f.body_faults(), nth, body.get("tools"))
        tag = out["system_fingerprint"].rsplit("/", 1)[-1]
        self.stats[f"answer_{tag}"] += 1
        return web.json_response(out)

    async def _models(self, request: web.Request) -> web.Response:
        names = ["auto", "zi_c", "zi_u", "markup_seller", "budget_buyer"]
        return web.json_response(
            {"object": "list", "data": [{"id": n, "object": "model", "owned_by": "agora-stand-in"} for n in names]}
        )

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                **self.stats,
                "in_flight": self.in_flight,
                "peak_in_flight": self.peak_in_flight,
                "faults": asdict(self.faults),
            }
        )

    async def _set_faults(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
            allowed = {f.name for f in fields(ServerFaults)}
            unknown = set(data) - allowed
            if unknown:
                raise ValueError(f"unknown fault fields {sorted(unknown)}; known: {sorted(allowed)}")
            self.faults = replace(self.faults, **data)
        except (ValueError, TypeError) as err:
            return _error(400, str(err), "invalid_request_error")
        return web.json_response(asdict(self.faults))

    def reset_stats(self) -> None:
        """Forget counts and the requests seen (tests call it between cases)."""
        self.stats.clear()
        self._seen.clear()
        self.max_tokens_seen.clear()
        self.peak_in_flight = 0

    # --- running -------------------------------------------------------------
    async def start_async(self) -> None:
        """Start listening in the running loop; ``port=0`` picks a free port."""
        self._runner = web.AppRunner(self.app(), access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=4096)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop_async(self) -> None:
        """Stop listening and drop open connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start(self) -> ModelServer:
        """Serve from a background thread with its own event loop; returns once listening."""

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            loop.run_until_complete(self.start_async())
            self._ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop_async())
            loop.close()

        self._thread = threading.Thread(target=run, name="agora-stand-in-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the stand-in model server did not start within 30 s")
        return self

    def stop(self) -> None:
        """Stop the background server."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Serve in the foreground until interrupted (``agora model-server``)."""

        async def main() -> None:
            await self.start_async()
            try:
                await asyncio.Event().wait()
            finally:
                await self.stop_async()

        asyncio.run(main())


def faults_json(server: ModelServer) -> str:
    """The server's fault settings as JSON (for logs)."""
    return json.dumps(asdict(server.faults), sort_keys=True)
