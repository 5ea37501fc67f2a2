"""Interop peer driving the official Rust MoQ stack (PyPI ``moq-rs`` 0.5.1 + ``moq-ffi`` 0.4.18).

Run with a Python that has ``moq`` installed; the test suite launches it as a subprocess::

    moq_rs_peer.py relay --bind 127.0.0.1:0 [--ignore-stdin]
    moq_rs_peer.py publish URL --name PATH --track NAME --frames N --groups-of G --interval-ms MS
        [--fingerprint HEX ...] [--insecure] [--wait-stdin] [--linger S]
    moq_rs_peer.py subscribe URL --prefix PREFIX --name PATH --track NAME --count N
        [--fingerprint HEX ...] [--insecure] [--timeout S]

Every command accepts ``--log LEVEL`` (Rust tracing to stderr). Events go to stdout as JSON lines,
one object per line, flushed at once; human-readable logs go to stderr. Exit codes: 0 success,
1 failure, 2 subscriber timeout, 130 interrupted.

Behaviour of moq-ffi 0.4.18 worth knowing (observed):
- ``announced(prefix)`` yields the broadcast's full path (relative to the origin root) in
  ``.prefix``; ``.captures`` holds the part below the prefix. Prefixes match whole path segments
  ("room" matches "room/a.hang", "room/a" does not). Retraction arrives as ``active=False``.
- A subscription starts at the newest group: of groups written before it joined, only the latest
  one (if any) is delivered, even with ``Subscription(group_start=0)``.
- Track end surfaces as ``next_group() -> None``; a publisher that vanishes mid-track makes
  ``next_group``/``read_frame`` raise ``moq.Error.Protocol`` and its path is announced inactive.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import signal
import sys
import threading
from typing import Any

import moq


def emit(event: str, **fields: Any) -> None:
    """Write one JSON event line to stdout."""
    print(json.dumps({"event": event, **fields}), flush=True)


def log(message: str) -> None:
    print(f"moq_rs_peer: {message}", file=sys.stderr, flush=True)


def describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}".replace("\n", " ")


def watch_stdin(loop: asyncio.AbstractEventLoop, *, until_eof: bool) -> asyncio.Future[str]:
    """Resolve with the next stdin line (or "" at EOF); with ``until_eof``, only at EOF.

    A daemon thread does the blocking read so it never holds up interpreter exit.
    """
    future: asyncio.Future[str] = loop.create_future()

    def resolve(line: str) -> None:
        if not future.done():
            future.set_result(line)

    def reader() -> None:
        line = ""
        try:
            if sys.stdin is not None:
                line = sys.stdin.readline()
                while until_eof and line:
                    line = sys.stdin.readline()
        except (OSError, ValueError):
            line = ""
        loop.call_soon_threadsafe(resolve, line)

    threading.Thread(target=reader, name="stdin", daemon=True).start()
    return future


def make_client(args: argparse.Namespace) -> moq.Client:
    options: dict[str, Any] = {"reconnect": False, "websocket_enabled": False}
    if args.fingerprint:
        options["tls_fingerprints"] = list(args.fingerprint)
    if args.insecure:
        options["tls_verify"] = False
    return moq.Client(args.url, **options)


async def cmd_relay(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if not args.ignore_stdin:
        watch_stdin(loop, until_eof=True).add_done_callback(lambda _: stop.set())
    sessions: set[asyncio.Task[None]] = set()

    async def hold(request: moq.Request) -> None:
        path, transport = request.path, getattr(request.transport, "name", str(request.transport))
        try:
            session = await request.accept()
            emit("session", path=path, transport=transport)
            await session.closed()
            log(f"session {path!r} closed")
        except Exception as err:  # a peer going away ends its session with an error
            log(f"session {path!r} ended: {describe(err)}")

    async def accept_loop(server: moq.Server) -> None:
        async for request in server:
            task = asyncio.create_task(hold(request))
            sessions.add(task)
            task.add_done_callback(sessions.discard)

    async with moq.Server(args.bind, tls_generate=["localhost"]) as server:
        emit("ready", addr=server.local_addr, fingerprints=server.cert_fingerprints())
        acceptor = asyncio.create_task(accept_loop(server))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({acceptor, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (acceptor, stopper, *sessions):
            task.cancel()
        await asyncio.gather(acceptor, *sessions, return_exceptions=True)
        if acceptor.done() and not acceptor.cancelled() and acceptor.exception() is not None:
            raise acceptor.exception()  # type: ignore[misc]
    log("relay stopped")
    return 0


async def cmd_publish(args: argparse.Namespace) -> int:
    async with make_client(args) as client:
        broadcast = client.create_broadcast(args.name)
        track = broadcast.publish_track(args.track)
        broadcast.announce()
        emit("announced", name=args.name)
        if args.wait_stdin:
            line = await watch_stdin(asyncio.get_running_loop(), until_eof=False)
            log("stdin closed, publishing anyway" if not line else "go")
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
        emit("sent", frames=args.frames, groups=len(sequences), first_group=sequences[0] if sequences else None)
        await asyncio.sleep(args.linger)
        broadcast.close()
        await asyncio.sleep(0.05)  # let the retraction leave before the session shuts down
    return 0


async def cmd_subscribe(args: argparse.Namespace, state: dict[str, int]) -> int:
    wanted = args.name.strip("/")
    async with make_client(args) as client:
        found = asyncio.Event()

        async def watch() -> None:
            async for update in client.announced(args.prefix):
                emit("announce", path=update.prefix, active=update.active)
                if update.active and update.prefix.strip("/") == wanted:
                    found.set()

        watcher = asyncio.create_task(watch())
        waiter = asyncio.create_task(found.wait())
        try:
            await asyncio.wait({watcher, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if not found.is_set():
                if watcher.exception() is not None:
                    raise watcher.exception()  # type: ignore[misc]
                raise RuntimeError("announcement stream ended before the broadcast appeared")
            broadcast = await client.announced_broadcast(args.name).available()
            track = await broadcast.subscribe_track(args.track)
            emit("subscribed")
            try:
                while state["frames"] < args.count:
                    group = await track.next_group()
                    if group is None:
                        emit("track_end")
                        break
                    while state["frames"] < args.count:
                        frame = await group.read_frame()
                        if frame is None:
                            break
                        emit("frame", group=group.sequence, payload=frame.payload.decode("utf-8", "replace"),
                             timestamp_us=frame.timestamp_us)
                        state["frames"] += 1
            except moq.Error as err:
                emit("error", message=describe(err))
                log(f"track read failed: {describe(err)}")
            track.cancel()
        finally:
            waiter.cancel()
            watcher.cancel()
            await asyncio.gather(watcher, waiter, return_exceptions=True)
    emit("done", frames=state["frames"])
    return 0 if state["frames"] == args.count else 1


async def run_subscribe(args: argparse.Namespace) -> int:
    state = {"frames": 0}
    try:
        return await asyncio.wait_for(cmd_subscribe(args, state), args.timeout)
    except asyncio.TimeoutError:
        emit("timeout", frames=state["frames"])
        log(f"timed out after {args.timeout}s with {state['frames']}/{args.count} frames")
        return 2


async def until_signal(runner: Any, args: argparse.Namespace) -> int:
    """Run a client command; SIGTERM/SIGINT cancel it so the session still closes cleanly."""
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return int(await runner(args))
    except asyncio.CancelledError:
        log("terminated by signal")
        return 143


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", default=None, help="Rust log level (error, warn, info, debug, trace)")
    commands = parser.add_subparsers(dest="cmd", required=True)

    relay = commands.add_parser("relay", help="one-node relay (shared origin)")
    relay.add_argument("--bind", default="127.0.0.1:0")
    relay.add_argument("--ignore-stdin", action="store_true", help="do not stop at stdin EOF")

    def client_parser(name: str, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help)
        sub.add_argument("url", help="https://HOST:PORT/ (WebTransport) or moql://HOST:PORT/ (raw QUIC)")
        sub.add_argument("--fingerprint", action="append", default=[], help="hex SHA-256 of the server cert")
        sub.add_argument("--insecure", action="store_true", help="skip TLS verification")
        sub.add_argument("--name", required=True, help="broadcast path")
        sub.add_argument("--track", required=True, help="track name")
        return sub

    publish = client_parser("publish", "publish one raw track")
    publish.add_argument("--frames", type=int, required=True)
    publish.add_argument("--groups-of", type=int, required=True)
    publish.add_argument("--interval-ms", type=int, required=True)
    publish.add_argument("--wait-stdin", action="store_true", help="wait for a stdin line before sending")
    publish.add_argument("--linger", type=float, default=1.0)

    subscribe = client_parser("subscribe", "discover a broadcast and read a track")
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
        if args.cmd == "relay":
            return asyncio.run(cmd_relay(args))
        return asyncio.run(until_signal(cmd_publish if args.cmd == "publish" else run_subscribe, args))
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except Exception as err:
        log(f"{args.cmd} failed: {describe(err)}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
