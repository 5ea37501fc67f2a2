"""Interop peer driving the official Rust MoQ stack (PyPI ``moq-rs`` 0.5.1 + ``moq-ffi`` 0.4.18).

Run it with a Python that has ``moq`` installed; the test suite launches it as a subprocess::

    moq_rs_peer.py relay --bind 127.0.0.1:0 [--ignore-stdin]
    moq_rs_peer.py publish URL --name PATH --track NAME --frames N --groups-of G --interval-ms MS
        [--fingerprint HEX ...] [--insecure] [--wait-stdin] [--linger S]
    moq_rs_peer.py subscribe URL --prefix PREFIX --name PATH --track NAME --count N
        [--fingerprint HEX ...] [--insecure] [--timeout S]

URL is ``https://HOST:PORT/`` (WebTransport) or ``moql://HOST:PORT/`` (raw QUIC). ``--log LEVEL``
(before the command) turns on Rust tracing. Events go to stdout as JSON lines, flushed at once;
human-readable logs go to stderr. Exit codes: 0 success, 1 failure, 2 subscriber timeout,
143 stopped by SIGTERM/SIGINT (relay: 0).

Observed moq-ffi 0.4.18 behaviour: ``announced(prefix)`` yields each broadcast's full path (in
``.prefix``); a subscription starts at the newest group; track end is ``next_group() -> None``; a
client's announcement iterator outlives its session, so ``session.closed()`` is watched too; and a
process exiting right after closing a client sends no CONNECTION_CLOSE, hence ``CLOSE_GRACE``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import threading
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import moq

T = TypeVar("T")
CLOSE_GRACE = 0.25  # seconds to stay alive after closing sessions so the QUIC close leaves


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def log(message: str) -> None:
    print(f"moq_rs_peer: {message}", file=sys.stderr, flush=True)


def describe(err: BaseException) -> str:
    details = moq.protocol_error(err)  # str() of a MoqError.Protocol hides its fields
    return f"{type(err).__name__}: {details if details is not None else err}".replace("\n", " ")


def read_stdin(loop: asyncio.AbstractEventLoop, *, until_eof: bool) -> asyncio.Future[str]:
    """Resolve with the next stdin line ("" at EOF), or with ``until_eof`` only at EOF.

    A daemon thread does the blocking read, so it never holds up the interpreter's exit.
    """
    future: asyncio.Future[str] = loop.create_future()

    def reader() -> None:
        line = ""
        with contextlib.suppress(OSError, ValueError, AttributeError):
            line = sys.stdin.readline()
            while until_eof and line:
                line = sys.stdin.readline()
        loop.call_soon_threadsafe(lambda: None if future.done() else future.set_result(line))

    threading.Thread(target=reader, name="stdin", daemon=True).start()
    return future


async def first(work: Awaitable[T], *guards: asyncio.Future[Any], failure: str) -> T:
    """Await ``work``; raise ConnectionError(failure) if a guard finishes first."""
    job = asyncio.ensure_future(work)
    try:
        await asyncio.wait({job, *guards}, return_when=asyncio.FIRST_COMPLETED)
        if job.done():
            return job.result()
        errors = [g.exception() for g in guards if g.done() and not g.cancelled() and g.exception()]
        raise ConnectionError(failure + "".join(f" ({describe(e)})" for e in errors if e))
    finally:
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)


@contextlib.asynccontextmanager
async def connect(args: argparse.Namespace) -> AsyncIterator[tuple[moq.Client, asyncio.Future[None]]]:
    """A one-shot client and a future that resolves when its session ends."""
    options: dict[str, Any] = {"reconnect": False, "websocket_enabled": False}
    if args.fingerprint:
        options["tls_fingerprints"] = list(args.fingerprint)
    if args.insecure:
        options["tls_verify"] = False
    try:
        async with moq.Client(args.url, **options) as client:
            assert client.session is not None
            closed = asyncio.ensure_future(client.session.closed())
            try:
                yield client, closed
            finally:
                closed.cancel()
                await asyncio.gather(closed, return_exceptions=True)
    finally:
        await asyncio.sleep(CLOSE_GRACE)


async def cmd_relay(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if not args.ignore_stdin:
        read_stdin(loop, until_eof=True).add_done_callback(lambda _: stop.set())
    sessions: set[asyncio.Task[None]] = set()

    async def hold(request: moq.Request) -> None:
        path, transport = request.path, getattr(request.transport, "name", str(request.transport))
        try:
            session = await request.accept()
        except Exception as err:
            return log(f"session {path!r} refused: {describe(err)}")
        emit("session", path=path, transport=transport)
        try:
            await session.closed()
            log(f"session {path!r} closed")
        except asyncio.CancelledError:
            session.shutdown()  # the relay is stopping: tell the peer rather than going silent
            raise
        except Exception as err:  # even a clean close by the peer reads as Protocol kind CANCEL
            log(f"session {path!r} ended: {describe(err)}")

    async def accept_loop(server: moq.Server) -> None:
        async for request in server:
            task = asyncio.create_task(hold(request))
            sessions.add(task)
            task.add_done_callback(sessions.discard)

    async with moq.Server(args.bind, tls_generate=["localhost"]) as server:
        emit("ready", addr=server.local_addr, fingerprints=server.cert_fingerprints())
        acceptor = asyncio.create_task(accept_loop(server))
        await first(stop.wait(), acceptor, failure="the server stopped accepting sessions")
        for task in (acceptor, *sessions):
            task.cancel()
        await asyncio.gather(acceptor, *sessions, return_exceptions=True)
        await asyncio.sleep(CLOSE_GRACE)  # let the sessions' CONNECTION_CLOSE leave
    log("relay stopped")
    return 0


async def cmd_publish(args: argparse.Namespace) -> int:
    async with connect(args) as (client, closed):
        broadcast = client.create_broadcast(args.name)
        track = broadcast.publish_track(args.track)
        broadcast.announce()
        emit("announced", name=args.name)

        async def send() -> list[int]:
            if args.wait_stdin:
                line = await read_stdin(asyncio.get_running_loop(), until_eof=False)
                log("go" if line else "stdin closed, publishing anyway")
            group: moq.GroupProducer | None = None
            sequences: list[int] = []
            for i in range(args.frames):
                if i % args.groups_of == 0:
                    group = track.append_group()
                    sequences.append(group.sequence)
                assert group is not None
                group.write_frame(f"frame-{i}".encode(), timestamp_us=i * args.interval_ms * 1000)
                if i % args.groups_of == args.groups_of - 1 or i == args.frames - 1:
                    group.finish()
                if i != args.frames - 1:
                    await asyncio.sleep(args.interval_ms / 1000)
            track.finish()
            return sequences

        try:
            sequences = await first(send(), closed, failure="session closed by the peer")
            emit("sent", frames=args.frames, groups=len(sequences), first_group=sequences[0] if sequences else None)
            await first(asyncio.sleep(args.linger), closed, failure="session closed by the peer")
        finally:
            broadcast.close()  # retracts the announcement; an unfinished track ends with an error
    return 0


async def cmd_subscribe(args: argparse.Namespace, state: dict[str, int]) -> int:
    wanted = args.name.strip("/")
    async with connect(args) as (client, closed):
        found = asyncio.Event()

        async def watch() -> None:
            async for update in client.announced(args.prefix):
                emit("announce", path=update.prefix, active=update.active)
                if update.active and update.prefix.strip("/") == wanted:
                    found.set()

        async def follow() -> None:
            await first(found.wait(), watcher, failure="announcement stream ended")
            broadcast = await client.announced_broadcast(args.name).available()
            track = await broadcast.subscribe_track(args.track)
            emit("subscribed")
            while state["frames"] < args.count:
                group = await track.next_group()
                if group is None:
                    return emit("track_end")
                while state["frames"] < args.count and (frame := await group.read_frame()) is not None:
                    text = frame.payload.decode("utf-8", "replace")
                    emit("frame", group=group.sequence, payload=text, timestamp_us=frame.timestamp_us)
                    state["frames"] += 1
            track.cancel()

        watcher = asyncio.create_task(watch())
        try:
            await first(follow(), closed, failure="session closed by the peer")
        except (moq.Error, ConnectionError) as err:
            emit("error", message=describe(err))
            log(f"subscribe failed: {describe(err)}")
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
    emit("done", frames=state["frames"])
    return 0 if state["frames"] == args.count else 1


async def run_subscribe(args: argparse.Namespace) -> int:
    state = {"frames": 0}
    try:
        return await asyncio.wait_for(cmd_subscribe(args, state), args.timeout)
    except TimeoutError:
        emit("timeout", frames=state["frames"])
        log(f"timed out after {args.timeout}s with {state['frames']}/{args.count} frames")
        return 2


async def until_signal(args: argparse.Namespace) -> int:
    """Run publish/subscribe; SIGTERM/SIGINT cancel it so the session still closes cleanly."""
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await (cmd_publish(args) if args.cmd == "publish" else run_subscribe(args))
    except asyncio.CancelledError:
        log("terminated by signal")
        return 143


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", help="Rust log level to stderr: error, warn, info, debug, trace")
    commands = parser.add_subparsers(dest="cmd", required=True)
    relay = commands.add_parser("relay", help="one-node relay (publish and subscribe share one origin)")
    relay.add_argument("--bind", default="127.0.0.1:0")
    relay.add_argument("--ignore-stdin", action="store_true", help="do not stop at stdin EOF")
    clients = []
    for name, text in (("publish", "publish one raw track"), ("subscribe", "discover a broadcast, read a track")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("url")
        sub.add_argument("--fingerprint", action="append", default=[], help="hex SHA-256 of the server cert")
        sub.add_argument("--insecure", action="store_true", help="skip TLS verification")
        sub.add_argument("--name", required=True, help="broadcast path")
        sub.add_argument("--track", required=True, help="track name")
        clients.append(sub)
    publish, subscribe = clients
    publish.add_argument("--frames", type=int, required=True)
    publish.add_argument("--groups-of", type=int, required=True)
    publish.add_argument("--interval-ms", type=int, required=True)
    publish.add_argument("--wait-stdin", action="store_true", help="wait for a stdin line before sending")
    publish.add_argument("--linger", type=float, default=1.0)
    subscribe.add_argument("--prefix", default="")
    subscribe.add_argument("--count", type=int, required=True)
    subscribe.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args(argv)
    if args.cmd == "publish" and (args.groups_of < 1 or args.frames < 0 or args.interval_ms < 0):
        parser.error("--groups-of must be >= 1, --frames and --interval-ms >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.log:
        moq.log_level(args.log)
    try:
        return asyncio.run(cmd_relay(args) if args.cmd == "relay" else until_signal(args))
    except Exception as err:
        log(f"{args.cmd} failed: {describe(err)}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
