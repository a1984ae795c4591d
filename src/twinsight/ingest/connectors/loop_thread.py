"""Running an asyncio server on its own thread, started synchronously.

The CoAP endpoint and the embedded broker are asyncio libraries inside a threaded platform:
each gets its own event loop on a daemon thread. Starting one must return only once it is
listening — or raise why not — and leave nothing running after a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable


def start_loop_thread(
    name: str,
    loop: asyncio.AbstractEventLoop,
    boot: Callable[[], Awaitable[None]],
    timeout: float,
) -> threading.Thread:
    """Run ``boot()`` on ``loop`` in a new daemon thread named ``name`` and wait for it; the
    loop keeps running afterwards (stop it with ``loop.call_soon_threadsafe(loop.stop)``).

    Raises what ``boot`` raised, or :class:`TimeoutError` after ``timeout`` seconds, with the
    loop stopped and closed.
    """
    ready = threading.Event()
    failure: list[BaseException] = []

    async def guarded() -> None:
        try:
            await boot()
        except Exception as exc:  # handed to the caller, who names the server
            failure.append(exc)
        finally:
            ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        booting = loop.create_task(guarded())  # referenced so it is not collected early
        loop.run_forever()
        del booting

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    if not ready.wait(timeout) or failure:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        with contextlib.suppress(RuntimeError):
            loop.close()
        if failure:
            raise failure[0]
        raise TimeoutError(f"no answer within {timeout} s")
    return thread
