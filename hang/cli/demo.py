"""``hang demo``: an embedded relay, a publisher and a watcher in one process, over real QUIC."""

from __future__ import annotations

import argparse
import asyncio
import time

from hang.cli.common import add_common, stop_on_signals, transport_config
from hang.errors import HangError
from hang.model.broadcast import BroadcastProducer
from hang.relay import Relay, RelayConfig
from hang.session.client import ClientConfig, connect

BROADCAST = "demo/clock"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``hang demo``."""
    parser = sub.add_parser("demo", help="run a relay, a publisher and a watcher together on this machine")
    parser.add_argument("--port", type=int, default=4443, help="relay port (0 picks a free one; default 4443)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds to run (0 = until Ctrl-C)")
    add_common(parser)
    parser.set_defaults(run=run)


async def publish(url: str, config: ClientConfig, stop: asyncio.Event) -> None:
    """Publish a clock: ten frames a second, a group per second, each frame its send time."""
    async with connect(url, config) as session:
        broadcast = BroadcastProducer()
        track = broadcast.create_track("clock")
        session.publish(BROADCAST, broadcast.consume())
        group = track.append_group()
        frame = 0
        while not stop.is_set():
            if frame and frame % 10 == 0:
                group = track.append_group()
            now = time.time()
            group.write_frame(f"{time.strftime('%H:%M:%S', time.localtime(now))} {now:.6f}".encode(),
                              int(now * 1_000_000))
            frame += 1
            try:
                await asyncio.wait_for(stop.wait(), 0.1)
            except TimeoutError:
                pass
        broadcast.close()


async def watch(url: str, config: ClientConfig, stop: asyncio.Event) -> int:
    """Discover the clock by prefix, subscribe, print each frame with its latency."""
    received = 0
    async with connect(url, config) as session:
        async for announcement in session.announced("demo"):
            print(f"watcher: {'announced' if announcement.active else 'ended'} {announcement.path}", flush=True)
            if announcement.path == BROADCAST and announcement.active:
                break
        track = await session.subscribe(BROADCAST, "clock")
        try:
            while not stop.is_set() and (group := await track.next_group()) is not None:
                while (frame := await group.read_frame()) is not None:
                    text, sent = frame.payload.decode().split(" ")
                    latency = (time.time() - float(sent)) * 1000
                    print(f"watcher: {BROADCAST} group {group.sequence:3d}  {text}  latency {latency:5.1f} ms",
                          flush=True)
                    received += 1
        except HangError as exc:
            if not stop.is_set():
                raise
            print(f"watcher: stopped ({exc})", flush=True)
    return received


async def run(args: argparse.Namespace) -> int:
    """Run everything until the duration passes or the user interrupts."""
    transport = transport_config(args)
    transport.idle_timeout = 1.0
    async with Relay(RelayConfig(host="127.0.0.1", port=args.port, versions=args.versions,
                                 transport=transport)) as relay:
        url = f"https://127.0.0.1:{relay.port}/"
        config = ClientConfig(versions=args.versions, fingerprints=[relay.fingerprint], transport=transport)
        stop = asyncio.Event()
        with stop_on_signals(stop):
            publisher = asyncio.ensure_future(publish(url, config, stop))
            watcher = asyncio.ensure_future(watch(url, config, stop))
            try:
                await asyncio.wait_for(stop.wait(), args.duration or None)
            except TimeoutError:
                stop.set()
            await asyncio.wait({publisher, watcher}, timeout=3)
        for task in (publisher, watcher):
            if not task.done():
                task.cancel()
        received = watcher.result() if watcher.done() and not watcher.cancelled() else 0
        if publisher.done() and not publisher.cancelled():
            publisher.result()
    print(f"demo: watcher received {received} frames through the relay", flush=True)
    return 0 if received else 1
