"""Real media end to end: PyAV encode -> package -> publish through hang relay -> read -> decode -> compare."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

import hang
from hang.catalog import PRIORITY_AUDIO, PRIORITY_VIDEO, AudioSection, Catalog, CatalogConsumer, CatalogProducer
from hang.catalog.models import VideoSection
from hang.media.decode import Decoder
from hang.media.describe import audio_config, video_config
from hang.media.h264 import AvcConfig, parameter_sets, split_annexb
from hang.media.packager import AudioPackager, EncodedPacket, H264Normalizer, VideoPackager
from hang.media.reader import MediaFrame, MediaReader
from hang.relay import Relay
from tests.conftest import client_config, url
from tests.media_util import FPS, HEIGHT, WIDTH, correlation, encode_audio, encode_video, picture, psnr, tone

VIDEO = [  # (encoder, ffmpeg codec, H.264 output form, options)
    ("libx264", "h264", "avc3", {"tune": "zerolatency"}),
    ("libx264", "h264", "avc1", {"tune": "zerolatency"}),
    ("libx264", "h264", "avc3", {"bframes": "2", "preset": "fast"}),
    ("libvpx", "vp8", "", {}),
    ("libvpx-vp9", "vp9", "", {"deadline": "realtime"}),
    ("libsvtav1", "av1", "", {"preset": "12"}),
]
AUDIO = [("libopus", "opus"), ("aac", "aac")]


async def publish_and_receive(relay: Relay, catalog_of: Any, tracks: dict[str, list[EncodedPacket]],
                              packagers: dict[str, Any]) -> tuple[Catalog, dict[str, list[MediaFrame]]]:
    """Publish a catalog and packets through the relay; return what a subscriber read back."""
    config = client_config(relay)
    async with hang.connect(url(relay), config) as pub, hang.connect(url(relay), config) as sub:
        broadcast = hang.BroadcastProducer()
        catalog = CatalogProducer(broadcast, catalog_of)
        for name, packager in packagers.items():
            packager.track = broadcast.create_track(name, hang.TrackInfo(
                priority=PRIORITY_VIDEO if name == "video" else PRIORITY_AUDIO))
        pub.publish("room/media.hang", broadcast.consume())
        announcements = sub.announced("room")
        async for item in announcements:
            if item.path == "room/media.hang":
                break
        received = await asyncio.wait_for(
            CatalogConsumer(await sub.subscribe("room/media.hang", "catalog.json")).next(), 5)
        assert received is not None
        consumers = {name: await sub.subscribe("room/media.hang", name) for name in tracks}
        await asyncio.sleep(0.3)
        frames: dict[str, list[MediaFrame]] = {name: [] for name in tracks}

        async def read(name: str, container: Any) -> None:
            async for frame in MediaReader(container).frames(consumers[name]):
                frames[name].append(frame)

        readers = [asyncio.ensure_future(read(name, None)) for name in tracks]
        for name, packets in tracks.items():
            for packet in packets:
                packagers[name].push(packet)
                await asyncio.sleep(0.002)
            packagers[name].finish()
        await asyncio.wait_for(asyncio.gather(*readers), 10)
        catalog.finish()
        return received, frames


@pytest.mark.parametrize(("encoder", "codec", "form", "options"), VIDEO,
                         ids=["h264-avc3", "h264-avc1", "h264-bframes", "vp8", "vp9", "av1"])
async def test_video_round_trip(relay: Relay, encoder: str, codec: str, form: str, options: dict[str, str]) -> None:
    context, packets = encode_video(encoder, 45, **options)
    normalizer = H264Normalizer("avc1" if form == "avc1" else "avc3") if codec == "h264" else None
    avcc = None
    if form == "avc1":
        sps, pps = parameter_sets(split_annexb(packets[0].payload))
        avcc = AvcConfig((sps[0],), (pps[0],)).build()
    config = video_config(codec, packets[0].payload, width=WIDTH, height=HEIGHT, framerate=FPS, bitrate=1_000_000,
                          extradata=context.extradata, h264_output=form or "avc3", avcc=avcc)
    catalog = Catalog(video=VideoSection(renditions={"video": config}, priority=PRIORITY_VIDEO))
    received, frames = await publish_and_receive(relay, catalog, {"video": packets},
                                                 {"video": VideoPackager(None, normalizer)})  # type: ignore[arg-type]

    assert received.video is not None
    got = received.video.renditions["video"]
    assert got == config
    expected_prefix = {"h264": "avc3." if form != "avc1" else "avc1.", "vp8": "vp8", "vp9": "vp09.", "av1": "av01."}
    assert got.codec.startswith(expected_prefix[codec])
    # Every group starts with a keyframe, and every packet arrived in decode order.
    units = frames["video"]
    assert [u.keyframe for u in units] == [p.keyframe for p in packets]
    assert [u.timestamp_us for u in units] == [p.timestamp_us for p in packets]
    decoder = Decoder(got)
    decoded = [f for u in units for f in decoder.decode(u.payload, u.timestamp_us)] + decoder.flush()
    assert decoder.errors == 0
    assert len(decoded) == 45
    for frame in decoded:
        index = round(frame.pts * FPS / 1_000_000)
        assert psnr(frame.to_ndarray(format="rgb24"), picture(index)) > 25, f"frame {index}"


@pytest.mark.parametrize(("encoder", "codec"), AUDIO)
async def test_audio_round_trip(relay: Relay, encoder: str, codec: str) -> None:
    source = tone(1.0, 440.0)
    context, packets = encode_audio(encoder, source)
    config = audio_config(codec, sample_rate=48000, channels=2, bitrate=128000, extradata=context.extradata)
    catalog = Catalog(audio=AudioSection(renditions={"audio": config}, priority=PRIORITY_AUDIO))
    received, frames = await publish_and_receive(relay, catalog, {"audio": packets},
                                                 {"audio": AudioPackager(None, group_ms=100)})  # type: ignore[arg-type]
    assert received.audio is not None
    got = received.audio.renditions["audio"]
    assert got.codec == ("opus" if codec == "opus" else "mp4a.40.2")
    units = frames["audio"]
    assert len(units) == len(packets)
    decoder = Decoder(got)
    pcm = np.concatenate([f.to_ndarray().reshape(-1, 2 if f.format.is_packed else f.samples)[:, 0]
                          if f.format.is_packed else f.to_ndarray()[0]
                          for u in units for f in decoder.decode(u.payload, u.timestamp_us)])
    assert decoder.errors == 0
    assert len(pcm) > 0.8 * source.shape[1]
    assert correlation(pcm[4800:40000], source[0][4800:40000]) > 0.9


def test_packager_drops_delta_frames_before_the_first_keyframe() -> None:
    track = hang.TrackProducer("video")
    packager = VideoPackager(track)
    from fractions import Fraction
    tb = Fraction(1, 1000)
    assert not packager.push(EncodedPacket(b"delta", 0, tb, False))
    assert packager.push(EncodedPacket(b"key", 33, tb, True))
    assert packager.push(EncodedPacket(b"delta", 66, tb, False))
    assert packager.push(EncodedPacket(b"key2", 99, tb, True))
    assert packager.dropped == 1
    assert [[f.payload for f in g.frames] for g in track.groups] == [
        [b"\x80\x00\x80\xe8key", b"\x80\x01\x01\xd0delta"], [b"\x80\x01\x82\xb8key2"]]


@pytest.mark.parametrize("form", ["avc1", "avc3"])
def test_h264_from_a_file_avcc_is_packaged_in_either_form(form: str, tmp_path: Any) -> None:
    # Files carry AVCC (length-prefixed NAL units) with an avcC record; encoders emit Annex-B.
    import av

    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as output:
        stream = output.add_stream("libx264", rate=FPS, options={"tune": "zerolatency", "g": "10"})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for index in range(20):
            frame = av.VideoFrame.from_ndarray(picture(index), format="rgb24").reformat(format="yuv420p")
            frame.pts = index
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    with av.open(str(path)) as source:
        video = source.streams.video[0]
        avcc = bytes(video.codec_context.extradata)
        packets = [EncodedPacket.from_av(p) for p in source.demux(video) if p.size]
    assert not packets[0].payload.startswith(b"\x00\x00\x00\x01")  # really AVCC input
    normalizer = H264Normalizer(form, avcc=avcc)  # type: ignore[arg-type]
    track = hang.TrackProducer("video")
    packager = VideoPackager(track, normalizer)
    for packet in packets:
        packager.push(packet)
    config = video_config("h264", packets[0].payload, width=WIDTH, height=HEIGHT, extradata=avcc,
                          h264_output=form, avcc=normalizer.description)
    assert config.codec.startswith(form + ".")
    decoder = Decoder(config)
    reader = MediaReader()
    decoded = []
    for group in track.groups:
        for index, frame in enumerate(group.frames):
            for unit in reader.unwrap(frame.payload, group.sequence, index == 0):
                decoded += decoder.decode(unit.payload, unit.timestamp_us)
    decoded += decoder.flush()
    assert decoder.errors == 0 and len(decoded) == 20
    assert [len(g.frames) for g in track.groups] == [10, 10]
    for frame in decoded:
        assert psnr(frame.to_ndarray(format="rgb24"), picture(round(frame.pts * FPS / 1_000_000))) > 28
