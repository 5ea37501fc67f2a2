"""Encoded packets in, Hang frames out: groups that start at keyframes, timestamps in microseconds."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from hang.media import h264
from hang.media.container import encode_frame
from hang.model.group import GroupProducer
from hang.model.track import TrackProducer

MICROSECONDS = Fraction(1, 1_000_000)


@dataclass(frozen=True)
class EncodedPacket:
    """One encoded access unit as an encoder or demuxer hands it over, in decode order."""

    payload: bytes
    #: Presentation timestamp in ``time_base`` units.
    pts: int
    time_base: Fraction
    keyframe: bool

    @property
    def timestamp_us(self) -> int:
        """Presentation time in microseconds (negative values, e.g. Opus pre-skip, clamp to 0)."""
        return max(0, round(self.pts * self.time_base / MICROSECONDS))

    @classmethod
    def from_av(cls, packet: Any) -> EncodedPacket:
        """From a PyAV ``av.Packet``."""
        return cls(bytes(packet), packet.pts or 0, Fraction(packet.time_base), bool(packet.is_keyframe))


class H264Normalizer:
    """Rewrites H.264 access units into the form the catalog announces.

    ``avc3``: Annex-B with SPS/PPS in front of every keyframe (what encoders emit).
    ``avc1``: 4-byte length prefixes, parameter sets out of band in :attr:`description` (avcC).
    Input is Annex-B, or AVCC when the avcC it came with is given (files).
    """

    def __init__(self, output: Literal["avc1", "avc3"], avcc: bytes | None = None) -> None:
        self.output = output
        self.input_config = h264.AvcConfig.parse(avcc) if avcc else None
        self.sps: list[bytes] = list(self.input_config.sps) if self.input_config else []
        self.pps: list[bytes] = list(self.input_config.pps) if self.input_config else []

    @property
    def description(self) -> bytes | None:
        """The avcC for ``avc1`` output (None until an SPS and PPS were seen, and for ``avc3``)."""
        if self.output != "avc1" or not self.sps or not self.pps:
            return None
        return h264.AvcConfig(tuple(self.sps[:1]), tuple(self.pps[:1])).build()

    def __call__(self, payload: bytes, keyframe: bool) -> bytes:
        if self.output == "avc1" and self.input_config is not None and self.input_config.length_size == 4:
            return payload  # already what avc1 carries: pass the file's bytes through untouched
        # With an avcC the input is AVCC (a length prefix may well begin 00 00 01); without, Annex-B.
        if self.input_config is None:
            nals = h264.split_annexb(payload)
        else:
            nals = h264.split_avcc(payload, self.input_config.length_size)
        sps, pps = h264.parameter_sets(nals)
        if sps and pps:
            self.sps, self.pps = sps, pps
        media = [n for n in nals if h264.nal_type(n) not in (h264.NAL_SPS, h264.NAL_PPS, h264.NAL_AUD)]
        if self.output == "avc1":
            return h264.join_avcc(media)
        if keyframe:
            media = self.sps + self.pps + media
        return h264.join_annexb(media)


class VideoPackager:
    """Writes video packets to a track: a new group at every keyframe, nothing before the first one."""

    def __init__(self, track: TrackProducer, transform: H264Normalizer | None = None) -> None:
        self.track = track
        self.transform = transform
        self.group: GroupProducer | None = None
        self.dropped = 0

    def push(self, packet: EncodedPacket) -> bool:
        """Package one packet; False when it was dropped (a delta frame before any keyframe)."""
        if packet.keyframe:
            self.group = self.track.append_group()
        elif self.group is None:
            self.dropped += 1
            return False
        payload = self.transform(packet.payload, packet.keyframe) if self.transform else packet.payload
        self.group.write_frame(encode_frame(packet.timestamp_us, payload), packet.timestamp_us)
        return True

    def finish(self) -> None:
        """End the track."""
        self.track.finish()


class AudioPackager:
    """Writes audio packets to a track: a group per packet, or per ``group_ms`` of audio."""

    def __init__(self, track: TrackProducer, group_ms: int = 0) -> None:
        self.track = track
        self.group_us = group_ms * 1000
        self.group: GroupProducer | None = None
        self._group_start = 0

    def push(self, packet: EncodedPacket) -> bool:
        """Package one packet (every audio packet is independently decodable)."""
        timestamp = packet.timestamp_us
        if self.group is None or timestamp - self._group_start >= self.group_us:
            self.group = self.track.append_group()
            self._group_start = timestamp
        self.group.write_frame(encode_frame(timestamp, packet.payload), timestamp)
        if not self.group_us:
            self.group.finish()
        return True

    def finish(self) -> None:
        """End the track."""
        self.track.finish()
