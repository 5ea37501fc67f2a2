"""PyAV decoders built from catalog configs; a bad packet is logged and skipped, never fatal."""

from __future__ import annotations

import logging
from fractions import Fraction
from typing import Any, cast

import av

from hang.catalog.models import AudioConfig, VideoConfig
from hang.errors import MediaError
from hang.media.h264 import AvcConfig, join_annexb, split_avcc

log = logging.getLogger("hang.media")

MICROSECONDS = Fraction(1, 1_000_000)

_VIDEO = {"avc1": "h264", "avc3": "h264", "vp8": "vp8", "vp09": "vp9", "av01": "libdav1d"}
_AUDIO = {"opus": "libopus", "mp4a": "aac"}


def _family(codec: str) -> str:
    return codec.split(".", 1)[0]


class Decoder:
    """Decodes one rendition's payloads into ``av`` frames with ``pts`` in microseconds."""

    def __init__(self, config: VideoConfig | AudioConfig) -> None:
        family = _family(config.codec)
        table = _VIDEO if isinstance(config, VideoConfig) else _AUDIO
        name = table.get(family)
        if name is None:
            raise MediaError(f"cannot decode codec {config.codec!r}")
        self.config = config
        self.context: Any = cast(Any, av.CodecContext.create(name, "r"))
        self._avcc: AvcConfig | None = None
        if family == "avc1" and config.description:
            # FFmpeg's h264 decoder reads Annex-B most reliably: convert AVCC input, parameter sets in front.
            self._avcc = AvcConfig.parse(config.description)
        elif config.description:
            self.context.extradata = config.description
        if isinstance(config, AudioConfig):
            self.context.sample_rate = config.sample_rate
            self.context.layout = "stereo" if config.number_of_channels == 2 else "mono"
        self.errors = 0

    def decode(self, payload: bytes, timestamp_us: int) -> list[Any]:
        """Frames decoded so far, oldest first (an undecodable packet gives [] and is counted)."""
        if self._avcc is not None:
            params = list(self._avcc.sps) + list(self._avcc.pps)
            payload = join_annexb(params + split_avcc(payload, self._avcc.length_size))
        packet = av.Packet(payload)
        packet.pts = timestamp_us
        packet.time_base = MICROSECONDS
        try:
            return list(self.context.decode(packet))
        except (av.error.FFmpegError, ValueError) as exc:
            self.errors += 1
            log.warning("undecodable %s packet at %d us: %s", self.config.codec, timestamp_us, exc)
            return []

    def flush(self) -> list[Any]:
        """Frames still held by the decoder."""
        try:
            return list(self.context.decode(None))
        except av.error.FFmpegError:
            return []
