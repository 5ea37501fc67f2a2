"""``--record``: each participant's media written to a file as received, without re-encoding."""

from __future__ import annotations

import logging
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from hang.catalog import AudioConfig, VideoConfig
from hang.media.reader import MediaFrame

log = logging.getLogger("hang.watch")

_CODECS = {"avc1": "h264", "avc3": "h264", "vp8": "vp8", "vp09": "vp9", "av01": "av1", "opus": "opus",
           "mp4a": "aac"}
MICROSECONDS = Fraction(1, 1_000_000)


class Recorder:
    """Muxes one participant's renditions into ``DIR/<name>.mkv`` (Matroska takes every Hang codec)."""

    def __init__(self, directory: Path, name: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
        self.path = directory / f"{safe}.mkv"
        self.container: Any = None
        self.streams: dict[str, Any] = {}
        self.pending: dict[str, tuple[VideoConfig | AudioConfig, bool]] = {}
        self.first_us: int | None = None
        self.packets = 0

    def add(self, kind: str, config: VideoConfig | AudioConfig) -> None:
        """Declare a rendition; streams are created before the first packet is written."""
        if kind not in self.streams:
            self.pending[kind] = (config, False)

    def _open(self) -> None:
        self.container = av.open(str(self.path), "w", format="matroska")
        for kind, (config, _) in self.pending.items():
            family = config.codec.split(".", 1)[0]
            codec = _CODECS.get(family)
            if codec is None:
                log.warning("cannot record codec %s", config.codec)
                continue
            stream = self.container.add_stream(codec)
            context = stream.codec_context
            if isinstance(config, VideoConfig):
                context.width, context.height = config.coded_width or 0, config.coded_height or 0
                if family == "avc3":
                    context.extradata = None
            else:
                context.sample_rate = config.sample_rate
                context.layout = "stereo" if config.number_of_channels == 2 else "mono"
            if config.description and family != "avc3":
                context.extradata = config.description
            stream.time_base = Fraction(1, 1000)
            self.streams[kind] = stream
        self.pending.clear()

    def write(self, kind: str, unit: MediaFrame) -> None:
        """Mux one received media unit (payload untouched)."""
        if self.container is None:
            if kind != "video" and "video" in self.pending:
                return  # start at the first video keyframe so the file begins decodable
            if kind == "video" and not unit.keyframe:
                return
            self._open()
            self.first_us = unit.timestamp_us
        stream = self.streams.get(kind)
        if stream is None or self.first_us is None:
            return
        packet = av.Packet(unit.payload)
        timestamp = max(0, unit.timestamp_us - self.first_us)
        packet.pts = round(timestamp / 1000)
        packet.time_base = stream.time_base
        packet.stream = stream
        packet.is_keyframe = unit.keyframe
        try:
            self.container.mux(packet)
            self.packets += 1
        except (av.error.FFmpegError, ValueError) as exc:
            log.warning("%s: cannot record a %s packet: %s", self.path.name, kind, exc)

    def close(self) -> None:
        """Finish the file."""
        if self.container is not None:
            self.container.close()
            log.info("recorded %d packets to %s", self.packets, self.path)

