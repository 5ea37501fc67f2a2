"""WebCodecs codec strings derived from real bitstreams, and the decoder descriptions that go with them."""

from __future__ import annotations

from hang.errors import MediaError
from hang.media.h264 import NAL_SPS, AvcConfig, nal_type

_AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)

# (level x 10, max luma sample rate, max luma picture size) from the VP9 specification, annex A.
_VP9_LEVELS = (
    (10, 829440, 36864), (11, 2764800, 73728), (20, 4608000, 122880), (21, 9216000, 245760),
    (30, 20736000, 552960), (31, 36864000, 983040), (40, 83558400, 2228224), (41, 160432128, 2228224),
    (50, 311951360, 8912896), (51, 588251136, 8912896), (52, 1176502272, 8912896),
    (60, 1176502272, 35651584), (61, 2353004544, 35651584), (62, 4706009088, 35651584),
)


def avc_codec(sps_or_avcc: bytes, *, in_band: bool) -> str:
    """``avc1.PPCCLL`` (parameter sets out of band) or ``avc3.PPCCLL`` (in band) from an SPS or avcC."""
    if sps_or_avcc[:1] == b"\x01" and len(sps_or_avcc) > 7:
        sps = AvcConfig.parse(sps_or_avcc).sps[0]
    else:
        sps = sps_or_avcc
    if len(sps) < 4 or nal_type(sps) != NAL_SPS:
        raise MediaError("not an H.264 SPS")
    return f"{'avc3' if in_band else 'avc1'}.{sps[1]:02x}{sps[2]:02x}{sps[3]:02x}"


def aac_codec(audio_specific_config: bytes) -> str:
    """``mp4a.40.N`` where N is the audio object type of an AudioSpecificConfig."""
    if not audio_specific_config:
        raise MediaError("empty AudioSpecificConfig")
    object_type = audio_specific_config[0] >> 3
    if object_type == 31 and len(audio_specific_config) > 1:
        object_type = 32 + (((audio_specific_config[0] & 0x07) << 3) | (audio_specific_config[1] >> 5))
    return f"mp4a.40.{object_type}"


def audio_specific_config(sample_rate: int, channels: int, object_type: int = 2) -> bytes:
    """A two-byte AudioSpecificConfig (AAC-LC by default)."""
    if sample_rate not in _AAC_RATES:
        raise MediaError(f"no AAC sampling-frequency index for {sample_rate} Hz")
    index = _AAC_RATES.index(sample_rate)
    value = (object_type << 11) | (index << 7) | (channels << 3)
    return value.to_bytes(2, "big")


def opus_head(channels: int, pre_skip: int = 312, sample_rate: int = 48000) -> bytes:
    """The 19-byte OpusHead (mapping family 0) used as the Opus ``description``."""
    if not 1 <= channels <= 2:
        raise MediaError("OpusHead mapping family 0 carries one or two channels")
    return (b"OpusHead" + bytes([1, channels]) + pre_skip.to_bytes(2, "little")
            + sample_rate.to_bytes(4, "little") + b"\x00\x00\x00")


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def read(self, count: int) -> int:
        value = 0
        for _ in range(count):
            byte = self.pos >> 3
            if byte >= len(self.data):
                raise MediaError("bitstream header is truncated")
            value = (value << 1) | ((self.data[byte] >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return value

    def uvlc(self) -> int:
        zeros = 0
        while self.read(1) == 0:
            zeros += 1
            if zeros >= 32:
                raise MediaError("invalid uvlc")
        return (1 << zeros) - 1 + self.read(zeros)


def vp9_codec(keyframe: bytes, width: int, height: int, framerate: float) -> str:
    """``vp09.PP.LL.DD`` from a VP9 key frame (profile, bit depth) and the picture size and rate."""
    bits = _Bits(keyframe)
    if bits.read(2) != 2:
        raise MediaError("not a VP9 frame (bad frame marker)")
    low = bits.read(1)
    profile = (bits.read(1) << 1) | low
    if profile == 3:
        bits.read(1)
    if bits.read(1):
        raise MediaError("VP9 frame shows an existing frame; need a key frame")
    if bits.read(1) != 0:
        raise MediaError("not a VP9 key frame")
    bits.read(2)  # show_frame, error_resilient_mode
    if bits.read(24) != 0x498342:
        raise MediaError("VP9 key frame has a bad sync code")
    depth = (12 if bits.read(1) else 10) if profile >= 2 else 8
    samples = width * height
    rate = samples * framerate
    level = next((lv for lv, max_rate, max_size in _VP9_LEVELS if samples <= max_size and rate <= max_rate), 62)
    return f"vp09.{profile:02d}.{level:02d}.{depth:02d}"


def _leb128(data: bytes, at: int) -> tuple[int, int]:
    value = 0
    for i in range(8):
        if at + i >= len(data):
            raise MediaError("truncated leb128")
        byte = data[at + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, at + i + 1
    raise MediaError("leb128 too long")


def av1_sequence_header(data: bytes) -> bytes:
    """The payload of the first sequence header OBU in a temporal unit (or in an av1C record)."""
    at = 4 if data[:1] == b"\x81" else 0  # av1C: 4 bytes, then configOBUs
    while at < len(data):
        header = data[at]
        obu_type = (header >> 3) & 0x0F
        at += 2 if header & 0x04 else 1
        if header & 0x02:
            size, at = _leb128(data, at)
        else:
            size = len(data) - at
        if obu_type == 1:
            return data[at : at + size]
        at += size
    raise MediaError("no AV1 sequence header OBU")


def av1_codec(data: bytes) -> str:
    """``av01.P.LLT.DD`` from a temporal unit or av1C record holding a sequence header."""
    bits = _Bits(av1_sequence_header(data))
    profile = bits.read(3)
    bits.read(1)  # still_picture
    reduced = bits.read(1)
    level, tier = 0, 0
    if reduced:
        level = bits.read(5)
    else:
        delay_length = 0
        decoder_model = False
        if bits.read(1):  # timing_info_present_flag
            bits.read(64)
            if bits.read(1):  # equal_picture_interval
                bits.uvlc()
            decoder_model = bool(bits.read(1))
            if decoder_model:
                delay_length = bits.read(5) + 1
                bits.read(32 + 5 + 5)
        display_delay = bits.read(1)
        for point in range(bits.read(5) + 1):
            bits.read(12)  # operating_point_idc
            point_level = bits.read(5)
            point_tier = bits.read(1) if point_level > 7 else 0
            if point == 0:  # the codec string names operating point 0
                level, tier = point_level, point_tier
            if decoder_model and bits.read(1):
                bits.read(2 * delay_length + 1)
            if display_delay and bits.read(1):
                bits.read(4)
    width_bits = bits.read(4) + 1
    height_bits = bits.read(4) + 1
    bits.read(width_bits + height_bits)
    if not reduced and bits.read(1):  # frame_id_numbers_present_flag
        bits.read(7)
    bits.read(3)  # use_128x128_superblock, enable_filter_intra, enable_intra_edge_filter
    if not reduced:
        bits.read(4)  # interintra, masked compound, warped motion, dual filter
        order_hint = bits.read(1)
        if order_hint:
            bits.read(2)
        force_screen_content = 2 if bits.read(1) else bits.read(1)
        if force_screen_content > 0 and not bits.read(1):
            bits.read(1)
        if order_hint:
            bits.read(3)
    bits.read(3)  # enable_superres, enable_cdef, enable_restoration
    high = bits.read(1)
    depth = (12 if bits.read(1) else 10) if profile == 2 and high else (10 if high else 8)
    return f"av01.{profile}.{level:02d}{'H' if tier else 'M'}.{depth:02d}"
