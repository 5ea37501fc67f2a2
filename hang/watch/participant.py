"""One participant of a room: follow its catalog, pick renditions, subscribe, decode, keep stats."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hang.catalog import PRIORITY_AUDIO, PRIORITY_VIDEO, AudioConfig, Catalog, CatalogConsumer, VideoConfig
from hang.errors import HangError
from hang.media.decode import Decoder
from hang.media.reader import MediaFrame, MediaReader
from hang.session.client import ClientSession

log = logging.getLogger("hang.watch")


@dataclass
class Limits:
    """What the viewer wants at most."""

    max_height: int | None = None
    max_bitrate: int | None = None


def pick_video(renditions: dict[str, VideoConfig], limits: Limits) -> str | None:
    """The best rendition that fits the limits (the smallest one if none fits)."""
    if not renditions:
        return None

    def size(item: tuple[str, VideoConfig]) -> tuple[int, int]:
        return (item[1].coded_height or 0, item[1].bitrate or 0)

    fitting = [(n, c) for n, c in renditions.items()
               if (limits.max_height is None or (c.coded_height or 0) <= limits.max_height)
               and (limits.max_bitrate is None or (c.bitrate or 0) <= limits.max_bitrate)]
    pool = fitting or sorted(renditions.items(), key=size)[:1]
    return max(pool, key=size)[0]


@dataclass
class Stats:
    """Counters a participant keeps for the stats line and overlay."""

    frames: int = 0
    audio_frames: int = 0
    bytes: int = 0
    groups_skipped: int = 0
    decode_errors: int = 0
    latency_ms: float = 0.0
    started: float = field(default_factory=time.monotonic)


#: Sinks get decoded frames: (participant, kind, frame, media unit).
FrameSink = Callable[["Participant", str, Any, MediaFrame], None]
#: Unit sinks get every received media unit before decoding (recording): (participant, kind, unit).
UnitSink = Callable[["Participant", str, MediaFrame], None]


class Participant:
    """A broadcast in the room being watched."""

    def __init__(self, session: ClientSession, path: str, limits: Limits, sinks: list[FrameSink],
                 unit_sinks: list[UnitSink] | None = None,
                 on_catalog: Callable[[Participant, Catalog], None] | None = None) -> None:
        self.session = session
        self.path = path
        self.name = path.rsplit("/", 1)[-1].removesuffix(".hang")
        self.limits = limits
        self.sinks = sinks
        self.unit_sinks = unit_sinks or []
        self.on_catalog = on_catalog
        self.catalog: Catalog | None = None
        self.video: tuple[str, VideoConfig] | None = None
        self.audio: tuple[str, AudioConfig] | None = None
        self.error: str | None = None
        self.stats = Stats()
        self.latest_video: Any = None
        #: Decoded pictures waiting for their presentation time: (timestamp us, arrival, frame).
        self.video_queue: collections.deque[tuple[int, float, Any]] = collections.deque(maxlen=60)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._base_lag: float | None = None
        self._main: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin following the catalog."""
        self._main = asyncio.ensure_future(self._run())

    def stop(self) -> None:
        """Stop every subscription of this participant."""
        for task in [self._main, *self._tasks.values()]:
            if task is not None:
                task.cancel()

    async def _run(self) -> None:
        try:
            catalog_track = await self.session.subscribe(self.path, "catalog.json", priority=100)
            async for catalog in CatalogConsumer(catalog_track).updates():
                self._apply(catalog)
        except asyncio.CancelledError:
            raise
        except HangError as exc:
            self.error = f"catalog: {exc}"
            log.warning("%s: %s", self.path, self.error)

    def _apply(self, catalog: Catalog) -> None:
        self.catalog = catalog
        if self.on_catalog is not None:
            self.on_catalog(self, catalog)
        video_name = pick_video(catalog.video.renditions, self.limits) if catalog.video else None
        audio_name = next(iter(catalog.audio.renditions), None) if catalog.audio else None
        wanted: dict[str, tuple[str, VideoConfig | AudioConfig]] = {}
        if video_name and catalog.video:
            self.video = (video_name, catalog.video.renditions[video_name])
            wanted["video"] = self.video
        if audio_name and catalog.audio:
            self.audio = (audio_name, catalog.audio.renditions[audio_name])
            wanted["audio"] = self.audio
        for kind, (name, config) in wanted.items():
            key = f"{kind}:{name}:{config.codec}"
            if key not in self._tasks:
                for old in [k for k in self._tasks if k.startswith(kind + ":")]:
                    self._tasks.pop(old).cancel()
                self._tasks[key] = asyncio.ensure_future(self._play(kind, name, config))

    def _track_latency(self, timestamp_us: int) -> None:
        # Without a shared clock, latency is measured against the first frame: how much later than
        # its timestamp says each frame arrives (growth means queueing somewhere on the path).
        lag = time.monotonic() - timestamp_us / 1_000_000
        if self._base_lag is None or lag < self._base_lag:
            self._base_lag = lag
        self.stats.latency_ms = (lag - self._base_lag) * 1000

    async def _play(self, kind: str, name: str, config: VideoConfig | AudioConfig) -> None:
        try:
            decoder = Decoder(config)
            reader = MediaReader(config.container)
            priority = PRIORITY_VIDEO if kind == "video" else PRIORITY_AUDIO
            track = await self.session.subscribe(self.path, name, priority=priority)
            last_group: int | None = None
            waiting_keyframe = False
            async for unit in reader.frames(track):
                if last_group is not None and unit.group > last_group + 1:
                    self.stats.groups_skipped += unit.group - last_group - 1
                    waiting_keyframe = kind == "video"
                last_group = unit.group
                if waiting_keyframe and not unit.keyframe:
                    continue  # recover from a skipped group at the next keyframe
                waiting_keyframe = False
                self.stats.bytes += len(unit.payload)
                self._track_latency(unit.timestamp_us)
                for unit_sink in self.unit_sinks:
                    unit_sink(self, kind, unit)
                frames = await asyncio.to_thread(decoder.decode, unit.payload, unit.timestamp_us)
                self.stats.decode_errors = decoder.errors
                for frame in frames:
                    if kind == "video":
                        self.stats.frames += 1
                        self.video_queue.append((unit.timestamp_us, time.monotonic(), frame))
                    else:
                        self.stats.audio_frames += 1
                    for sink in self.sinks:
                        sink(self, kind, frame, unit)
        except asyncio.CancelledError:
            raise
        except HangError as exc:
            self.error = f"{kind}: {exc}"
            log.warning("%s: %s", self.path, self.error)
