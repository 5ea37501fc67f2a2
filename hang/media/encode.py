"""Small, stateful PyAV encoders: frames in, :class:`EncodedPacket` out, a keyframe on request."""

from __future__ import annotations

import logging
from fractions import Fraction
from typing import Any, cast

import av

from hang.errors import MediaError
from hang.media.packager import EncodedPacket

log = logging.getLogger("hang.media")

#: Video encoders by codec name: (FFmpeg encoder, options for live use).
VIDEO_ENCODERS: dict[str, tuple[str, dict[str, str]]] = {
    "h264": ("libx264", {"tune": "zerolatency", "preset": "veryfast", "sc_threshold": "0"}),
    "vp8": ("libvpx", {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}),
    "vp9": ("libvpx-vp9", {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "row-mt": "1"}),
}
AUDIO_ENCODERS: dict[str, str] = {"opus": "libopus", "aac": "aac"}


class VideoEncoder:
    """Encodes ``av.VideoFrame`` objects; the context is (re)created lazily when the size changes."""

    def __init__(self, codec: str = "h264", *, bitrate: int = 2_000_000, framerate: float = 30.0,
                 keyframe_interval: float = 2.0) -> None:
        if codec not in VIDEO_ENCODERS:
            raise MediaError(f"unsupported video codec {codec!r} (choose from {', '.join(VIDEO_ENCODERS)})")
        self.codec = codec
        self.bitrate = bitrate
        self.framerate = framerate
        self.keyframe_interval = keyframe_interval
        self.context: Any = None
        self.size: tuple[int, int] | None = None
        self._force_keyframe = True
        self._last_keyframe_pts: int | None = None

    def request_keyframe(self) -> None:
        """Make the next frame a keyframe (a one-shot flag)."""
        self._force_keyframe = True

    def _open(self, width: int, height: int) -> None:
        name, options = VIDEO_ENCODERS[self.codec]
        context = cast(Any, av.CodecContext.create(name, "w"))
        context.width, context.height = width, height
        context.pix_fmt = "yuv420p"
        context.time_base = Fraction(1, 1_000_000)
        context.framerate = Fraction(self.framerate).limit_denominator(1001)
        context.bit_rate = self.bitrate
        context.gop_size = max(1, round(self.framerate * self.keyframe_interval))
        context.max_b_frames = 0
        context.options = dict(options)
        try:
            context.open()
        except av.error.FFmpegError as exc:
            raise MediaError(f"cannot open the {name} encoder: {exc}") from None
        self.context, self.size = context, (width, height)
        self._force_keyframe = True

    def encode(self, frame: Any, timestamp_us: int) -> list[EncodedPacket]:
        """Encode one frame presented at ``timestamp_us``."""
        if self.size != (frame.width, frame.height):
            if self.context is not None:
                log.info("video size changed to %dx%d: new encoder", frame.width, frame.height)
            self._open(frame.width, frame.height)
        if frame.format.name != "yuv420p":
            frame = frame.reformat(format="yuv420p")
        frame.pts = timestamp_us
        frame.time_base = Fraction(1, 1_000_000)
        due = (self._last_keyframe_pts is None
               or timestamp_us - self._last_keyframe_pts >= self.keyframe_interval * 1_000_000)
        if self._force_keyframe or due:
            frame.pict_type = av.video.frame.PictureType.I
            self._force_keyframe = False
        packets = [EncodedPacket.from_av(p) for p in self.context.encode(frame)]
        for packet in packets:
            if packet.keyframe:
                self._last_keyframe_pts = packet.timestamp_us
        return packets

    def flush(self) -> list[EncodedPacket]:
        """Packets still held by the encoder."""
        if self.context is None:
            return []
        return [EncodedPacket.from_av(p) for p in self.context.encode(None)]


class AudioEncoder:
    """Encodes ``av.AudioFrame`` objects (any format/rate) into Opus or AAC at 48 kHz."""

    def __init__(self, codec: str = "opus", *, bitrate: int = 96_000, channels: int = 2,
                 sample_rate: int = 48_000) -> None:
        if codec not in AUDIO_ENCODERS:
            raise MediaError(f"unsupported audio codec {codec!r} (choose from {', '.join(AUDIO_ENCODERS)})")
        self.codec = codec
        self.sample_rate = sample_rate
        self.channels = channels
        context = cast(Any, av.CodecContext.create(AUDIO_ENCODERS[codec], "w"))
        context.sample_rate = sample_rate
        context.layout = "stereo" if channels == 2 else "mono"
        context.format = "fltp" if codec == "aac" else "flt"
        context.bit_rate = bitrate
        context.time_base = Fraction(1, sample_rate)
        try:
            context.open()
        except av.error.FFmpegError as exc:
            raise MediaError(f"cannot open the {codec} encoder: {exc}") from None
        self.context = context
        self.frame_size: int = context.frame_size or 960
        self.resampler = av.AudioResampler(format=context.format.name, layout=context.layout.name,
                                           rate=sample_rate, frame_size=self.frame_size)

    @property
    def extradata(self) -> bytes | None:
        """OpusHead / AudioSpecificConfig."""
        data = self.context.extradata
        return bytes(data) if data else None

    def encode(self, frame: Any) -> list[EncodedPacket]:
        """Resample to whole encoder frames and encode them (timestamps follow the input's)."""
        packets = []
        for chunk in self.resampler.resample(frame):
            packets += [EncodedPacket.from_av(p) for p in self.context.encode(chunk)]
        return packets

    def flush(self) -> list[EncodedPacket]:
        """Packets still held by the resampler and encoder."""
        packets = []
        for chunk in self.resampler.resample(None):
            packets += [EncodedPacket.from_av(p) for p in self.context.encode(chunk)]
        return packets + [EncodedPacket.from_av(p) for p in self.context.encode(None)]
