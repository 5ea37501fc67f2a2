"""``hang demo``: the embedded relay, a published sample file, and a watcher that decodes it, over real QUIC."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from pathlib import Path

from hang.catalog import AudioConfig, CatalogConsumer, VideoConfig
from hang.cli.common import add_common, stop_on_signals, transport_config
from hang.errors import HangError, MediaError
from hang.media.decode import Decoder
from hang.media.reader import MediaReader
from hang.publish.broadcast import MediaBroadcast
from hang.publish.file import FilePublisher
from hang.publish.runner import keep_published
from hang.relay import Relay, RelayConfig
from hang.session.client import ClientConfig, connect

BROADCAST = "demo/sample.hang"
SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "h264-aac.mp4"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``hang demo``."""
    parser = sub.add_parser("demo", help="run a relay, publish a sample file and watch it, all on this machine")
    parser.add_argument("--port", type=int, default=4443, help="relay port (0 picks a free one; default 4443)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds to run (0 = until Ctrl-C)")
    parser.add_argument("--file", type=Path, default=SAMPLE, help="media file to publish (default: the sample)")
    add_common(parser)
    parser.set_defaults(run=run)


async def watch(url: str, config: ClientConfig, stop: asyncio.Event, counts: Counter[str]) -> None:
    """Discover the broadcast by prefix, follow its catalog, decode every rendition, count frames."""
    async with connect(url, config) as session:
        async for announcement in session.announced("demo"):
            print(f"watcher: {'announced' if announcement.active else 'ended'} {announcement.path}", flush=True)
            if announcement.path == BROADCAST and announcement.active:
                break
        catalog = await CatalogConsumer(await session.subscribe(BROADCAST, "catalog.json")).next()
        if catalog is None:
            raise MediaError("the broadcast ended before its catalog arrived")
        renditions: dict[str, VideoConfig | AudioConfig] = {
            **(catalog.video.renditions if catalog.video else {}),
            **(catalog.audio.renditions if catalog.audio else {})}
        for name, rendition in renditions.items():
            print(f"watcher: {name}: {rendition.codec}", flush=True)

        async def play(name: str) -> None:
            rendition = renditions[name]
            decoder = Decoder(rendition)
            track = await session.subscribe(BROADCAST, name)
            async for unit in MediaReader(rendition.container).frames(track):
                counts[name] += len(decoder.decode(unit.payload, unit.timestamp_us))
                counts[name + " bytes"] += len(unit.payload)

        players = [asyncio.ensure_future(play(name)) for name in renditions]
        try:
            await stop.wait()
        finally:
            for player in players:
                player.cancel()


async def report(counts: Counter[str], stop: asyncio.Event) -> None:
    """Print what the watcher decoded, once a second."""
    previous: Counter[str] = Counter()
    while not stop.is_set():
        with_timeout = asyncio.ensure_future(stop.wait())
        await asyncio.wait({with_timeout}, timeout=1.0)
        with_timeout.cancel()
        delta = counts - previous
        previous = counts.copy()
        parts = [f"{name} {delta[name]} frames {delta[name + ' bytes'] * 8 / 1000:.0f} kbit/s"
                 for name in sorted(k for k in counts if not k.endswith(" bytes"))]
        if parts:
            print(f"watcher: {time.strftime('%H:%M:%S')}  " + "  |  ".join(parts), flush=True)


async def run(args: argparse.Namespace) -> int:
    """Run everything until the duration passes or the user interrupts."""
    if not args.file.is_file():
        raise MediaError(f"{args.file} is missing: run `python samples/make_samples.py` (part of .ci/setup)")
    transport = transport_config(args)
    transport.idle_timeout = 1.0
    async with Relay(RelayConfig(host="127.0.0.1", port=args.port, versions=args.versions,
                                 transport=transport)) as relay:
        url = f"https://127.0.0.1:{relay.port}/"
        config = ClientConfig(versions=args.versions, fingerprints=[relay.fingerprint], transport=transport)
        stop = asyncio.Event()
        counts: Counter[str] = Counter()
        broadcast = MediaBroadcast()
        source = FilePublisher(args.file, broadcast, loop=True, progress=False)
        broadcast.expect = {entry.name for entry in source.streams.values()}
        with stop_on_signals(stop):
            tasks = [asyncio.ensure_future(keep_published(url, config, BROADCAST, broadcast, stop)),
                     asyncio.ensure_future(source.run(stop)),
                     asyncio.ensure_future(watch(url, config, stop, counts)),
                     asyncio.ensure_future(report(counts, stop))]
            done, _ = await asyncio.wait(tasks, timeout=args.duration or None, return_when=asyncio.FIRST_EXCEPTION)
            stop.set()
            await asyncio.wait(tasks, timeout=3)
        source.close()
        for task in tasks:
            error = task.exception() if task.done() and not task.cancelled() else None
            if isinstance(error, HangError):
                raise error
    decoded = {k: v for k, v in counts.items() if not k.endswith(" bytes")}
    print(f"demo: the watcher decoded {', '.join(f'{v} {k} frames' for k, v in sorted(decoded.items())) or 'nothing'}"
          " through the relay", flush=True)
    return 0 if decoded and all(decoded.values()) else 1
