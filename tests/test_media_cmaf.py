"""The CMAF container the official importer writes: init segment in the catalog, moof+mdat per frame."""

from __future__ import annotations

import io
from fractions import Fraction

import av
import pytest

from hang.catalog.models import Container
from hang.errors import MediaError
from hang.media import cmaf
from hang.media.h264 import AvcConfig, parameter_sets, split_annexb
from hang.media.reader import MediaReader
from tests.media_util import FPS, HEIGHT, WIDTH, encode_video


def fragmented_mp4(count: int) -> tuple[bytes, list[bytes], list[tuple[int, bool, bytes]]]:
    """An fMP4 of H.264 (one fragment per frame): init, fragments, and the source samples."""
    _, packets = encode_video("libx264", count, tune="zerolatency")
    output = io.BytesIO()
    container = av.open(output, "w", format="mp4",
                        options={"movflags": "frag_every_frame+empty_moov+default_base_moof"})
    stream = container.add_stream("h264", rate=FPS)
    stream.width, stream.height = WIDTH, HEIGHT
    stream.time_base = Fraction(1, 90000)
    sps, pps = parameter_sets(split_annexb(packets[0].payload))
    stream.codec_context.extradata = AvcConfig((sps[0],), (pps[0],)).build()
    samples = []
    for packet in packets:
        av_packet = av.Packet(packet.payload)
        av_packet.pts = av_packet.dts = packet.pts * 3000
        av_packet.time_base = stream.time_base
        av_packet.stream = stream
        av_packet.is_keyframe = packet.keyframe
        container.mux(av_packet)
        samples.append((packet.timestamp_us, packet.keyframe))
    container.close()
    data = output.getvalue()
    boxes = cmaf._boxes(data)
    moov_end = next(end for kind, _, end in boxes if kind == b"moov")
    init = data[:moov_end]
    fragments, current = [], b""
    for kind, body, end in boxes:
        if kind == b"moof":
            current = data[body - 8 : end]
        elif kind == b"mdat" and current:
            fragments.append(current + data[body - 8 : end])
            current = b""
    return init, fragments, [(ts, key, b"") for ts, key in samples]


def test_fragments_unwrap_to_timestamped_samples() -> None:
    init, fragments, source = fragmented_mp4(20)
    assert cmaf.timescales(init) == {1: 90000}
    reader = MediaReader(Container(kind="cmaf", init=init))
    units = [u for index, fragment in enumerate(fragments) for u in reader.unwrap(fragment, 0, index == 0)]
    assert len(units) == 20
    assert [(u.timestamp_us, u.keyframe) for u in units] == [(ts, key) for ts, key, _ in source]
    assert all(len(u.payload) > 0 for u in units)


def test_truncated_fragment_is_a_media_error() -> None:
    init, fragments, _ = fragmented_mp4(3)
    reader = MediaReader(Container(kind="cmaf", init=init))
    with pytest.raises(MediaError):
        reader.unwrap(fragments[0][:-10], 0, True)
    with pytest.raises(MediaError):
        reader.unwrap(fragments[0][:20], 0, True)


def test_unknown_container_kind_is_refused_clearly() -> None:
    with pytest.raises(MediaError, match="not supported"):
        MediaReader(Container(kind="quic-v9"))
