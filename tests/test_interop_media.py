"""Hang media interop with the official Rust stack (moq-rs 0.5.1 / moq-ffi 0.4.18), through our relay.

- Our reader decodes a broadcast the moq-rs media publisher made (its catalog, avc3 video, Opus audio).
- A moq-rs subscriber reads our broadcast as Hang media: its catalog parser and media API accept it.
"""

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
from hang.media.packager import AudioPackager, H264Normalizer, VideoPackager
from hang.media.reader import MediaReader
from hang.relay import Relay, RelayConfig
from hang.wire.constants import Version
from tests.media_util import FPS, HEIGHT, WIDTH, dominant_frequency, encode_audio, encode_video, tone
from tests.peers.harness import peer
from tests.test_loopback import next_active


def barcode(luma: np.ndarray) -> int:
    """The frame number the moq-rs peer draws as 16 blocks in its top 16 rows (MSB first)."""
    width = luma.shape[1] // 16
    bits = [int(luma[4:12, width * i + width // 2 - 3 : width * i + width // 2 + 3].mean() > 128) for i in range(16)]
    return int("".join(map(str, bits)), 2)


@pytest.fixture(params=[Version.LITE_03, Version.LITE_05], ids=lambda v: v.label)
async def relay(request: Any) -> Any:
    async with Relay(RelayConfig(host="127.0.0.1", port=0, versions=(request.param,))) as running:
        yield running


async def test_hang_reader_decodes_moq_rs_media(relay: Relay) -> None:
    target = f"https://127.0.0.1:{relay.port}/"
    config = hang.ClientConfig(fingerprints=[relay.fingerprint])
    async with hang.connect(target, config) as sub, \
            peer("publish-media", target, "--fingerprint", relay.fingerprint, "--name", "room/rust.hang",
                 "--seconds", "3", "--wait-stdin") as pub:
        await pub.expect("announced")
        await next_active(sub.announced("room"), "room/rust.hang", timeout=10)
        catalog_track = await sub.subscribe("room/rust.hang", "catalog.json")
        pub.send_line()  # moq-ffi publishes its catalog once the first keyframe exists
        catalog = await asyncio.wait_for(CatalogConsumer(catalog_track).next(), 10)
        assert catalog is not None and catalog.video is not None and catalog.audio is not None
        video_config_, audio_config_ = catalog.video.renditions["video"], catalog.audio.renditions["audio"]
        assert video_config_.codec.startswith("avc3.") and audio_config_.codec == "opus"
        assert catalog.model_extra and "clock" in catalog.model_extra  # its extension sections survive
        video = await sub.subscribe("room/rust.hang", "video")
        audio = await sub.subscribe("room/rust.hang", "audio")

        async def collect(track: hang.TrackConsumer, config: Any, count: int) -> list[Any]:
            decoder, frames = Decoder(config), []
            async for unit in MediaReader(config.container).frames(track):
                frames += decoder.decode(unit.payload, unit.timestamp_us)
                if len(frames) >= count:
                    break
            assert decoder.errors == 0
            return frames

        pictures, sound = await asyncio.wait_for(asyncio.gather(
            collect(video, video_config_, 45), collect(audio, audio_config_, 60)), 20)
    numbers = [barcode(f.to_ndarray(format="gray")) for f in pictures]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), numbers
    assert numbers[0] % FPS == 0  # started at a group's keyframe
    pts = [f.pts for f in pictures]
    assert all(b - a in (33333, 33334) for a, b in zip(pts, pts[1:], strict=False))
    pcm = np.concatenate([f.to_ndarray().reshape(-1)[::2] for f in sound])
    assert abs(dominant_frequency(pcm) - 440) < 5


async def test_moq_rs_reads_our_hang_broadcast(relay: Relay) -> None:
    target = f"https://127.0.0.1:{relay.port}/"
    config = hang.ClientConfig(fingerprints=[relay.fingerprint])
    video_context, video_packets = encode_video("libx264", 90, gop=30, tune="zerolatency")
    audio_context, audio_packets = encode_audio("libopus", tone(3.0))
    catalog = Catalog(
        video=VideoSection(renditions={"video/hd": video_config(
            "h264", video_packets[0].payload, width=WIDTH, height=HEIGHT, framerate=FPS, bitrate=1_000_000)},
            priority=PRIORITY_VIDEO),
        audio=AudioSection(renditions={"audio/data": audio_config(
            "opus", sample_rate=48000, channels=2, bitrate=128000, extradata=audio_context.extradata)},
            priority=PRIORITY_AUDIO))
    async with hang.connect(target, config) as pub:
        broadcast = hang.BroadcastProducer()
        catalog_producer = CatalogProducer(broadcast, catalog)
        video = VideoPackager(broadcast.create_track("video/hd", hang.TrackInfo(priority=PRIORITY_VIDEO)),
                              H264Normalizer("avc3"))
        audio = AudioPackager(broadcast.create_track("audio/data", hang.TrackInfo(priority=PRIORITY_AUDIO)))
        pub.publish("room/ours.hang", broadcast.consume())
        async with peer("subscribe-media", target, "--fingerprint", relay.fingerprint, "--prefix", "room",
                        "--name", "room/ours.hang", "--frames", "40") as sub:
            parsed = await sub.expect("catalog")
            await asyncio.sleep(0.5)
            audio_iter = iter(audio_packets)
            for index, packet in enumerate(video_packets):
                video.push(packet)
                for _ in range(2 if index % 3 else 1):  # ~50 audio packets a second beside 30 video
                    if (next_packet := next(audio_iter, None)) is not None:
                        audio.push(next_packet)
                await asyncio.sleep(1 / FPS)
                if any(e["event"] == "done" for e in sub.events):
                    break
            done = await sub.expect("done", timeout=20)
        catalog_producer.finish()
    assert "error" not in [e["event"] for e in sub.events], sub.events[-3:]
    assert parsed["json"]["video"]["video/hd"]["codec"] == catalog.video.renditions["video/hd"].codec  # type: ignore[union-attr]
    media = [e for e in sub.events if e["event"] == "media"]
    video_events = [e for e in media if e["track"] == "video/hd"]
    assert done["video"] >= 40 and done["audio"] > 0
    ours = {p.timestamp_us: p.keyframe for p in video_packets}
    assert all(ours[e["timestamp_us"]] == e["keyframe"] for e in video_events)
    assert video_events[0]["keyframe"]
