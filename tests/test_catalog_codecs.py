"""WebCodecs codec strings and descriptions derived from real bitstreams."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import av
import numpy as np
import pytest

from hang.catalog.codecs import aac_codec, audio_specific_config, av1_codec, avc_codec, opus_head, vp9_codec
from hang.errors import MediaError
from hang.media.h264 import AvcConfig, join_annexb, join_avcc, split_annexb, split_avcc

# hang-format.md section 10: a real libx264 SPS and the avcC built from it.
SPS = bytes.fromhex("6742c00dda0507e84000000300400000 0f23c50aa8".replace(" ", ""))
AVCC = bytes.fromhex("0142c00dffe100156742c00dda0507e840000003004000000f23c50aa801000468ce0fc8")


def test_avc_from_sps_and_avcc() -> None:
    assert avc_codec(SPS, in_band=False) == "avc1.42c00d"
    assert avc_codec(SPS, in_band=True) == "avc3.42c00d"
    assert avc_codec(AVCC, in_band=False) == "avc1.42c00d"
    config = AvcConfig.parse(AVCC)
    assert config.sps == (SPS,) and config.pps == (bytes.fromhex("68ce0fc8"),) and config.length_size == 4
    assert config.build() == AVCC
    with pytest.raises(MediaError):
        avc_codec(b"\x68\x00\x00\x00", in_band=True)


def test_annexb_and_avcc_round_trip() -> None:
    nals = [SPS, bytes.fromhex("68ce0fc8"), b"\x65" + bytes(range(40))]
    assert split_annexb(join_annexb(nals)) == nals
    assert split_annexb(b"\x00\x00\x01" + SPS + b"\x00\x00\x00\x01\x68\xce") == [SPS, b"\x68\xce"]
    assert split_avcc(join_avcc(nals)) == nals
    with pytest.raises(MediaError):
        split_avcc(join_avcc(nals)[:-1])


def test_audio_descriptions() -> None:
    assert opus_head(2) == bytes.fromhex("4f707573486561640102380180bb0000000000")
    assert audio_specific_config(48000, 2) == bytes.fromhex("1190")
    assert audio_specific_config(44100, 2) == bytes.fromhex("1210")
    assert aac_codec(bytes.fromhex("1190")) == "mp4a.40.2"
    assert aac_codec(bytes.fromhex("2b92")) == "mp4a.40.5"


def first_packet(encoder: str, pix_fmt: str = "yuv420p", size: tuple[int, int] = (320, 240), **options: str) -> bytes:
    context: Any = av.CodecContext.create(encoder, "w")
    context.width, context.height = size
    context.pix_fmt = pix_fmt
    context.time_base = Fraction(1, 30)
    context.framerate = 30
    context.options = options
    frame = av.VideoFrame.from_ndarray(np.zeros((size[1], size[0], 3), np.uint8), format="rgb24").reformat(
        format=pix_fmt)
    frame.pts = 0
    packets = list(context.encode(frame)) + list(context.encode(None))
    return bytes(packets[0])


def test_vp9_profile_depth_and_level() -> None:
    assert vp9_codec(first_packet("libvpx-vp9"), 320, 240, 30) == "vp09.00.20.08"
    assert vp9_codec(first_packet("libvpx-vp9", size=(1280, 720)), 1280, 720, 30) == "vp09.00.31.08"
    # A hand-built profile 2 key frame header: marker 10, profile 2, key frame, sync code, 10-bit.
    assert vp9_codec(bytes.fromhex("9249834200"), 320, 240, 30) == "vp09.02.20.10"
    with pytest.raises(MediaError):
        vp9_codec(b"\x00\x00", 320, 240, 30)


def test_av1_profile_level_tier_depth() -> None:
    eight = av1_codec(first_packet("libsvtav1", preset="12"))
    ten = av1_codec(first_packet("libsvtav1", "yuv420p10le", preset="12"))
    assert eight.startswith("av01.0.") and eight.endswith("M.08")
    assert ten.startswith("av01.0.") and ten.endswith("M.10")
    with pytest.raises(MediaError):
        av1_codec(b"\x12\x00")
