"""Keep a broadcast published: connect, publish, and reconnect with backoff when the relay goes away."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from hang.errors import ConnectError, HangError
from hang.publish.broadcast import MediaBroadcast
from hang.session.client import ClientConfig, ClientSession, connect

log = logging.getLogger("hang.publish")

BACKOFF_START = 1.0
BACKOFF_MAX = 10.0


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _drain(session: ClientSession, timeout: float = 5.0) -> None:
    """Wait until what was written has been acknowledged (the last frames and the unannounce)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    await asyncio.sleep(0.05)
    while session.transport.buffered() and loop.time() < deadline and not session.closed.done():
        await asyncio.sleep(0.05)


async def keep_published(url: str, config: ClientConfig, path: str, broadcast: MediaBroadcast,
                         stop: asyncio.Event, on_connected: Callable[[], None] | None = None) -> None:
    """Publish ``broadcast`` at ``path`` until ``stop`` is set, then end it cleanly.

    The first connection failing is an error (the relay is unreachable); a session lost later is
    retried with exponential backoff, and ``on_connected`` runs on each (re)connection so media
    resumes with a fresh group.
    """
    backoff = BACKOFF_START
    connected_once = False
    while not stop.is_set():
        try:
            async with connect(url, config) as session:
                connected_once, backoff = True, BACKOFF_START
                session.publish(path, broadcast.producer.consume())
                log.info("publishing %s to %s (%s)", path, url, session.version.label)
                if on_connected is not None:
                    on_connected()
                closed = asyncio.ensure_future(session.wait_closed())
                stopping = asyncio.ensure_future(stop.wait())
                await asyncio.wait({closed, stopping}, return_when=asyncio.FIRST_COMPLETED)
                for task in (closed, stopping):
                    task.cancel()
                if stop.is_set():
                    broadcast.close()
                    await _drain(session)
                    return
                log.warning("the relay closed the session; reconnecting")
        except ConnectError:
            if not connected_once:
                raise
            log.warning("cannot reach %s; retrying in %.0f s", url, backoff)
        except HangError as exc:
            if not connected_once:
                raise
            log.warning("session lost (%s); retrying in %.0f s", exc, backoff)
        await _wait(stop, backoff)
        backoff = min(backoff * 2, BACKOFF_MAX)
    broadcast.close()
