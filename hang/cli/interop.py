"""``hang interop``: the MoQ interop runner's client test cases, with TAP output."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from hang.errors import HangError, NotFound
from hang.model.broadcast import BroadcastProducer
from hang.session.client import ClientConfig, connect
from hang.session.moqt07 import Moqt07Session

NAMESPACE = "moq-test/interop"
TRACK = "test-track"

Case = Callable[[str, ClientConfig], Awaitable[dict[str, object]]]


@contextlib.asynccontextmanager
async def _session(url: str, config: ClientConfig) -> AsyncIterator[Moqt07Session]:
    async with connect(url, config) as session:
        assert isinstance(session, Moqt07Session)
        yield session


async def _announce(session: Moqt07Session) -> None:
    try:
        await session.announce(NAMESPACE)
    except NotFound as exc:
        raise HangError(f"ANNOUNCE {NAMESPACE}: {exc}") from None


async def setup_only(url: str, config: ClientConfig) -> dict[str, object]:
    async with _session(url, config):
        pass
    return {}


async def announce_only(url: str, config: ClientConfig) -> dict[str, object]:
    async with _session(url, config) as session:
        await _announce(session)
    return {}


async def publish_namespace_done(url: str, config: ClientConfig) -> dict[str, object]:
    async with _session(url, config) as session:
        await _announce(session)
        session.unannounce(NAMESPACE)
        await asyncio.sleep(0.1)
        if session.closed.done():
            raise HangError(f"session closed after UNANNOUNCE: {session.closed.result()}")
    return {}


async def subscribe_error(url: str, config: ClientConfig) -> dict[str, object]:
    async with _session(url, config) as session:
        try:
            await session.subscribe_track("nonexistent/namespace", TRACK)
        except NotFound as exc:
            return {"subscribe_error": str(exc)}
    raise HangError("SUBSCRIBE to a namespace nobody announced was accepted")


async def announce_subscribe(url: str, config: ClientConfig) -> dict[str, object]:
    async with _session(url, config) as publisher, _session(url, config) as subscriber:
        broadcast = BroadcastProducer()
        broadcast.create_track(TRACK)
        publisher.publish(NAMESPACE, broadcast.consume())
        await _wait_announced(subscriber)
        await subscriber.subscribe_track(NAMESPACE, TRACK)
    return {}


async def subscribe_before_announce(url: str, config: ClientConfig) -> dict[str, object]:
    async with _session(url, config) as publisher, _session(url, config) as subscriber:
        broadcast = BroadcastProducer()
        broadcast.create_track(TRACK)

        async def announce_later() -> None:
            await asyncio.sleep(0.5)
            publisher.publish(NAMESPACE, broadcast.consume())

        later = asyncio.ensure_future(announce_later())
        try:
            await subscriber.subscribe_track(NAMESPACE, TRACK)
            outcome = "SUBSCRIBE_OK"
        except NotFound:
            outcome = "SUBSCRIBE_ERROR"
        await later
    return {"outcome": outcome}


async def _wait_announced(session: Moqt07Session) -> None:
    async for announcement in session.announced(NAMESPACE.split("/")[0]):
        if announcement.path == NAMESPACE and announcement.active:
            return


CASES: dict[str, tuple[Case, float]] = {
    "setup-only": (setup_only, 2.0),
    "announce-only": (announce_only, 2.0),
    "publish-namespace-done": (publish_namespace_done, 3.0),
    "subscribe-error": (subscribe_error, 3.0),
    "announce-subscribe": (announce_subscribe, 3.0),
    "subscribe-before-announce": (subscribe_before_announce, 3.5),
}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``hang interop``."""
    parser = sub.add_parser("interop", help="run MoQ interop-runner client test cases (TAP output)")
    parser.add_argument("--relay", default=os.environ.get("RELAY_URL"),
                        help="relay URL: https:// (WebTransport) or moqt:// (raw QUIC); default $RELAY_URL")
    parser.add_argument("--testcase", default=os.environ.get("TESTCASE"),
                        help="one test id (default $TESTCASE; all when unset)")
    parser.add_argument("--list", action="store_true", help="print the supported test ids")
    parser.add_argument("--tls-disable-verify", action="store_true",
                        default=os.environ.get("TLS_DISABLE_VERIFY") == "1", help="accept any certificate")
    parser.add_argument("--tls-fingerprint", action="append", default=[], metavar="HEX")
    parser.add_argument("-v", "--verbose", action="count", default=1 if os.environ.get("VERBOSE") else 0)
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    """Run the chosen cases and print TAP version 14; 0 pass, 1 fail, 127 unsupported."""
    if args.list:
        print("\n".join(CASES))
        return 0
    names = [args.testcase] if args.testcase else list(CASES)
    if any(name not in CASES for name in names):
        print(f"hang interop: unsupported test case {args.testcase!r}", file=sys.stderr)
        return 127
    if not args.relay:
        raise ValueError("set RELAY_URL or --relay")
    config = ClientConfig(protocol="moqt-07", fingerprints=list(args.tls_fingerprint),
                          tls_disable_verify=args.tls_disable_verify, timeout=5)
    print("TAP version 14")
    print(f"1..{len(names)}")
    failed = 0
    for number, name in enumerate(names, 1):
        case, timeout = CASES[name]
        started = time.monotonic()
        try:
            details = await asyncio.wait_for(case(args.relay, config), timeout)
            status, error = "ok", ""
        except (HangError, TimeoutError, OSError) as exc:
            details, status, error = {}, "not ok", str(exc) or "timed out"
            failed += 1
        print(f"{status} {number} - {name}")
        print("  ---")
        print(f"  duration_ms: {round((time.monotonic() - started) * 1000)}")
        for key, value in details.items():
            print(f"  {key}: {value!r}")
        if error:
            print(f"  message: {error!r}")
        print("  ...", flush=True)
    return 1 if failed else 0
