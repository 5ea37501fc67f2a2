"""H.264 bitstream plumbing: Annex-B start codes, AVCC length prefixes and the avcC record."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hang.errors import MediaError

NAL_IDR = 5
NAL_SEI = 6
NAL_SPS = 7
NAL_PPS = 8
NAL_AUD = 9

_START_CODE = re.compile(b"\x00\x00\x01")


def nal_type(nal: bytes) -> int:
    """The nal_unit_type of a NAL unit (without start code or length)."""
    return nal[0] & 0x1F if nal else -1


def split_annexb(data: bytes) -> list[bytes]:
    """NAL units of an Annex-B byte stream (3- or 4-byte start codes)."""
    starts = [m.end() for m in _START_CODE.finditer(data)]
    nals = []
    for index, start in enumerate(starts):
        end = starts[index + 1] - 3 if index + 1 < len(starts) else len(data)
        nal = data[start:end]
        # A 4-byte start code leaves its leading zero on the previous unit; trailing zeros are not NAL data.
        nals.append(nal.rstrip(b"\x00") if index + 1 < len(starts) else nal)
    return [n for n in nals if n]


def is_annexb(data: bytes) -> bool:
    """True when ``data`` starts with an Annex-B start code."""
    return data.startswith(b"\x00\x00\x01") or data.startswith(b"\x00\x00\x00\x01")


def join_annexb(nals: list[bytes]) -> bytes:
    """An Annex-B byte stream with 4-byte start codes."""
    return b"".join(b"\x00\x00\x00\x01" + nal for nal in nals)


def split_avcc(data: bytes, length_size: int = 4) -> list[bytes]:
    """NAL units of a length-prefixed (AVCC) access unit."""
    nals, at = [], 0
    while at < len(data):
        if at + length_size > len(data):
            raise MediaError("AVCC access unit ends inside a length prefix")
        size = int.from_bytes(data[at : at + length_size], "big")
        at += length_size
        if at + size > len(data):
            raise MediaError(f"AVCC NAL unit of {size} bytes overruns the access unit")
        nals.append(data[at : at + size])
        at += size
    return nals


def join_avcc(nals: list[bytes], length_size: int = 4) -> bytes:
    """A length-prefixed (AVCC) access unit."""
    return b"".join(len(nal).to_bytes(length_size, "big") + nal for nal in nals)


@dataclass(frozen=True)
class AvcConfig:
    """The content of an avcC (AVCDecoderConfigurationRecord)."""

    sps: tuple[bytes, ...]
    pps: tuple[bytes, ...]
    length_size: int = 4

    def build(self) -> bytes:
        """Serialize as avcC."""
        if not self.sps:
            raise MediaError("avcC needs at least one SPS")
        sps = self.sps[0]
        out = bytearray([1, sps[1], sps[2], sps[3], 0xFC | (self.length_size - 1), 0xE0 | len(self.sps)])
        for unit in self.sps:
            out += len(unit).to_bytes(2, "big") + unit
        out.append(len(self.pps))
        for unit in self.pps:
            out += len(unit).to_bytes(2, "big") + unit
        return bytes(out)

    @classmethod
    def parse(cls, data: bytes) -> AvcConfig:
        """Read an avcC record."""
        try:
            if data[0] != 1:
                raise MediaError(f"avcC version {data[0]} is not 1")
            length_size = (data[4] & 0x03) + 1
            at = 6
            sps = []
            for _ in range(data[5] & 0x1F):
                size = int.from_bytes(data[at : at + 2], "big")
                sps.append(bytes(data[at + 2 : at + 2 + size]))
                at += 2 + size
            pps = []
            for _ in range(data[at]):
                size = int.from_bytes(data[at + 1 : at + 3], "big")
                pps.append(bytes(data[at + 3 : at + 3 + size]))
                at += 2 + size
        except IndexError:
            raise MediaError("avcC record is truncated") from None
        return cls(tuple(sps), tuple(pps), length_size)


def parameter_sets(nals: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """The SPS and PPS units among ``nals``."""
    return [n for n in nals if nal_type(n) == NAL_SPS], [n for n in nals if nal_type(n) == NAL_PPS]


def is_keyframe(nals: list[bytes]) -> bool:
    """True when the access unit holds an IDR slice."""
    return any(nal_type(n) == NAL_IDR for n in nals)
