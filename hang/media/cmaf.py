"""Reading CMAF media: the init segment's timescales and ``moof``+``mdat`` fragments into samples."""

from __future__ import annotations

from dataclasses import dataclass

from hang.errors import MediaError

_CONTAINERS = {b"moov", b"trak", b"mdia", b"moof", b"traf", b"mvex", b"minf", b"stbl"}


@dataclass(frozen=True)
class Sample:
    """One media sample of a fragment."""

    timestamp_us: int
    keyframe: bool
    payload: bytes


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the boxes in ``data[start:end]``."""
    end = len(data) if end is None else end
    found, at = [], start
    while at + 8 <= end:
        size = int.from_bytes(data[at : at + 4], "big")
        kind = data[at + 4 : at + 8]
        header = 8
        if size == 1:
            if at + 16 > end:
                raise MediaError("CMAF box ends inside its 64-bit size")
            size, header = int.from_bytes(data[at + 8 : at + 16], "big"), 16
        elif size == 0:
            size = end - at
        if size < header or at + size > end:
            raise MediaError(f"CMAF box {kind!r} of {size} bytes overruns its parent")
        found.append((kind, at + header, at + size))
        at += size
    return found


def _find(data: bytes, path: list[bytes], start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    matches = []
    for kind, body, box_end in _boxes(data, start, end):
        if kind == path[0]:
            if len(path) == 1:
                matches.append((body, box_end))
            else:
                matches += _find(data, path[1:], body, box_end)
    return matches


def timescales(init: bytes) -> dict[int, int]:
    """Track id -> media timescale, from an init segment (ftyp+moov)."""
    result = {}
    for body, end in _find(init, [b"moov", b"trak"]):
        tkhd = _find(init, [b"tkhd"], body, end)
        mdhd = _find(init, [b"mdia", b"mdhd"], body, end)
        if not tkhd or not mdhd:
            continue
        t, m = tkhd[0][0], mdhd[0][0]
        track_id = int.from_bytes(init[t + 12 : t + 16] if init[t] == 0 else init[t + 20 : t + 24], "big")
        scale_at = m + 12 if init[m] == 0 else m + 20
        result[track_id] = int.from_bytes(init[scale_at : scale_at + 4], "big")
    if not result:
        raise MediaError("CMAF init segment has no track with a timescale")
    return result


def parse_fragment(data: bytes, scales: dict[int, int]) -> list[Sample]:
    """The samples of one ``moof``+``mdat`` fragment, timestamps in microseconds (PTS)."""
    samples: list[Sample] = []
    for moof_kind, moof_body, moof_end in _boxes(data):
        if moof_kind != b"moof":
            continue
        moof_start = moof_body - 8
        for traf, traf_end in _find(data, [b"traf"], moof_body, moof_end):
            samples += _traf(data, traf, traf_end, moof_start, scales)
    if not samples and data:
        raise MediaError("CMAF fragment holds no samples")
    return samples


def _u32(data: bytes, at: int) -> int:
    if at + 4 > len(data):
        raise MediaError("CMAF box is truncated")
    return int.from_bytes(data[at : at + 4], "big")


def _traf(data: bytes, start: int, end: int, moof_start: int, scales: dict[int, int]) -> list[Sample]:
    tfhd = _find(data, [b"tfhd"], start, end)
    if not tfhd:
        raise MediaError("CMAF traf without tfhd")
    at = tfhd[0][0]
    flags = _u32(data, at) & 0xFFFFFF
    track_id = _u32(data, at + 4)
    at += 8
    base = moof_start
    if flags & 0x01:
        base = int.from_bytes(data[at : at + 8], "big")
        at += 8
    if flags & 0x02:
        at += 4
    default_duration = default_size = default_flags = 0
    if flags & 0x08:
        default_duration, at = _u32(data, at), at + 4
    if flags & 0x10:
        default_size, at = _u32(data, at), at + 4
    if flags & 0x20:
        default_flags = _u32(data, at)
    timescale = scales.get(track_id) or next(iter(scales.values()))
    decode_time = 0
    for tfdt, _ in _find(data, [b"tfdt"], start, end):
        decode_time = int.from_bytes(data[tfdt + 4 : tfdt + 12], "big") if data[tfdt] == 1 else _u32(data, tfdt + 4)
    samples = []
    for trun, _ in _find(data, [b"trun"], start, end):
        version = data[trun]
        tr_flags = _u32(data, trun) & 0xFFFFFF
        count = _u32(data, trun + 4)
        at = trun + 8
        offset = base
        if tr_flags & 0x01:
            offset = base + int.from_bytes(data[at : at + 4], "big", signed=True)
            at += 4
        first_flags = None
        if tr_flags & 0x04:
            first_flags, at = _u32(data, at), at + 4
        for index in range(count):
            duration, size, sample_flags, cto = default_duration, default_size, default_flags, 0
            if tr_flags & 0x100:
                duration, at = _u32(data, at), at + 4
            if tr_flags & 0x200:
                size, at = _u32(data, at), at + 4
            if tr_flags & 0x400:
                sample_flags, at = _u32(data, at), at + 4
            elif index == 0 and first_flags is not None:
                sample_flags = first_flags
            if tr_flags & 0x800:
                cto = int.from_bytes(data[at : at + 4], "big", signed=version == 1)
                at += 4
            if offset + size > len(data):
                raise MediaError("CMAF sample overruns the fragment")
            pts = max(0, decode_time + cto)
            samples.append(Sample((pts * 1_000_000 + timescale // 2) // timescale, not sample_flags & 0x10000,
                                  data[offset : offset + size]))
            offset += size
            decode_time += duration
    return samples
