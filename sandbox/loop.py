"""Run a coroutine to completion from synchronous code, whether or not an event loop is running.

``Session.run``, ``replay``, ``fork`` and ``resume`` are synchronous faces over async work.
Called where no loop runs (a script), they use ``asyncio.run``. Called where one does (a
Jupyter cell, or code inside ``asyncio.run``), ``asyncio.run`` would refuse, so the coroutine
runs on a private loop in a worker thread while the caller waits; the caller's context
(its current span, for one) goes along. Ctrl-C (a notebook's interrupt) cancels the work
and waits for it to wind down, so the run is recorded as interrupted, as in a script.
In async code, prefer the awaitable forms: ``await session.arun()``, ``areplay``, ``afork``,
``aresume``.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def in_running_loop() -> bool:
    """Whether this thread is inside a running event loop (a notebook cell, a coroutine)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)``, or the same on a worker thread when this thread's loop is busy."""
    if not in_running_loop():
        return asyncio.run(coro)
    return _Worker(coro).result()


class _Worker:
    """A private event loop on a thread of its own, running one coroutine."""

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._coro = coro
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._ready = threading.Event()
        self._done = threading.Event()  # not Thread.join: a join cut short by Ctrl-C may later return early
        self._value: Any = None
        self._error: BaseException | None = None
        ctx = contextvars.copy_context()
        self._thread = threading.Thread(target=ctx.run, args=(self._main,), name="agora-run", daemon=True)

    def _main(self) -> None:
        try:
            loop = asyncio.new_event_loop()
            try:
                self._loop = loop
                self._task = loop.create_task(self._coro)
                self._ready.set()
                self._value = loop.run_until_complete(self._task)
            finally:
                try:
                    loop.run_until_complete(loop.shutdown_asyncgens())
                finally:
                    loop.close()
        except BaseException as err:  # noqa: BLE001  (handed to the waiting caller, re-raised there)
            self._error = err
        finally:
            self._ready.set()
            self._done.set()

    def result(self) -> Any:
        caller = asyncio.current_task()  # the coroutine that called us, if any (not in a bare loop callback)
        self._thread.start()
        try:
            while not self._done.wait(0.1):  # short waits keep the caller interruptible
                if caller is not None and caller.cancelling():
                    # asyncio.run turns Ctrl-C into cancelling its main task: pass it on to the run
                    self._stop()
                    raise asyncio.CancelledError
        except KeyboardInterrupt:  # Jupyter's interrupt, or a plain SIGINT
            self._stop()
            raise
        if self._error is not None:
            raise self._error
        return self._value

    def _stop(self) -> None:
        """Cancel the run's task and wait until it has wound down (its run recorded as interrupted)."""
        self._ready.wait()
        if self._loop is not None and self._task is not None:
            try:
                self._loop.call_soon_threadsafe(self._task.cancel)
            except RuntimeError:  # the loop closed in the meantime: the work is already over
                pass
        self._done.wait()
