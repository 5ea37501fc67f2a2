"""``hang publish`` as a user runs it: sources in, a Hang broadcast out, through our relay."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

import hang
from hang.catalog import CatalogConsumer
from hang.media.decode import Decoder
from hang.media.reader import MediaReader
from hang.relay import Relay, RelayConfig
from hang.transport import tls
from tests.conftest import client_config, url
from tests.media_util import dominant_frequency
from tests.peers.harness import peer
from tests.test_loopback import next_active

SAMPLES = Path(__file__).parent.parent / "samples"


@pytest.fixture
async def publisher(relay: Relay) -> AsyncIterator[Any]:
    """Start ``hang publish URL ARGS...`` against the relay; stopped (SIGINT) on exit."""
    processes: list[asyncio.subprocess.Process] = []

    async def start(*args: str) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hang", "publish", url(relay), "--tls-fingerprint", relay.fingerprint,
            "--no-progress", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def watch(session: hang.MoqSession, path: str, video_frames: int, audio_frames: int = 0,
                timeout: float = 20) -> tuple[Any, dict[str, list[Any]], dict[str, list[Any]]]:
    """Discover ``path``, read its catalog, decode renditions: (catalog, decoded frames, media units)."""
    await next_active(session.announced(path.rsplit("/", 1)[0]), path, timeout=timeout)
    catalog = await asyncio.wait_for(CatalogConsumer(await session.subscribe(path, "catalog.json")).next(), timeout)
    assert catalog is not None
    renditions = {**(catalog.video.renditions if catalog.video else {}),
                  **(catalog.audio.renditions if catalog.audio else {})}
    decoded: dict[str, list[Any]] = {name: [] for name in renditions}
    units: dict[str, list[Any]] = {name: [] for name in renditions}

    async def play(name: str, wanted: int) -> None:
        decoder = Decoder(renditions[name])
        track = await session.subscribe(path, name)
        async for unit in MediaReader(renditions[name].container).frames(track):
            units[name].append(unit)
            decoded[name] += decoder.decode(unit.payload, unit.timestamp_us)
            if len(decoded[name]) >= wanted:
                return
        decoded[name] += decoder.flush()

    wants = {name: video_frames if name in (catalog.video.renditions if catalog.video else {}) else audio_frames
             for name in renditions}
    await asyncio.wait_for(asyncio.gather(*(play(n, w) for n, w in wants.items() if w)), timeout)
    return catalog, decoded, units


async def test_test_pattern_then_ctrl_c_ends_the_broadcast(relay: Relay, publisher: Any) -> None:
    process = await publisher("--name", "room/tp.hang", "--test-pattern", "--size", "320x240", "--tone", "880")
    async with hang.connect(url(relay), client_config(relay)) as session:
        announcements = session.announced("room")
        await next_active(announcements, "room/tp.hang")
        catalog, decoded, units = await watch(session, "room/tp.hang", 45, 50)
        assert catalog.video.renditions["video"].codec.startswith("avc3.")
        assert catalog.audio.renditions["audio"].codec == "opus"
        pictures = decoded["video"]
        assert (pictures[0].width, pictures[0].height) == (320, 240)
        assert units["video"][0].keyframe
        pcm = np.concatenate([f.to_ndarray().reshape(-1)[::2] for f in decoded["audio"]])
        assert abs(dominant_frequency(pcm) - 880) < 5
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 10) == 0
        await next_active(announcements, "room/tp.hang", active=False, timeout=3)
    stderr = (await process.stderr.read()).decode()  # type: ignore[union-attr]
    assert "Traceback" not in stderr and "publishing room/tp.hang" in stderr


async def test_camera_path_with_a_lavfi_device(relay: Relay, publisher: Any) -> None:
    await publisher("--name", "room/cam.hang", "--camera", "testsrc2=size=320x240:rate=30,realtime",
                    "--input-format", "lavfi")
    async with hang.connect(url(relay), client_config(relay)) as session:
        catalog, decoded, _ = await watch(session, "room/cam.hang", 30)
    assert catalog.audio is None
    assert len(decoded["video"]) >= 30 and decoded["video"][0].width == 320


def file_packets(path: Path) -> dict[str, dict[int, bytes]]:
    """Each stream's packets by presentation timestamp (microseconds) as the file holds them."""
    out: dict[str, dict[int, bytes]] = {"video": {}, "audio": {}}
    with av.open(str(path)) as container:
        for packet in container.demux():
            if packet.size and packet.pts is not None:
                kind = packet.stream.type
                out[kind][max(0, round(packet.pts * packet.time_base * 1_000_000))] = bytes(packet)
    return out


@pytest.mark.parametrize(("sample", "video_codec", "audio_codec"), [
    ("h264-aac.mp4", "avc1.", "mp4a.40.2"),
    ("h264-bframes-opus.mkv", "avc1.", "opus"),
    ("vp9-opus.webm", "vp09.", "opus"),
])
async def test_file_passes_through_byte_for_byte(relay: Relay, publisher: Any, sample: str, video_codec: str,
                                                  audio_codec: str) -> None:
    path = SAMPLES / sample
    await publisher("--name", "room/file.hang", "--file", str(path))
    async with hang.connect(url(relay), client_config(relay)) as session:
        catalog, decoded, units = await watch(session, "room/file.hang", 60, 60)
    assert catalog.video.renditions["video"].codec.startswith(video_codec)
    assert catalog.audio.renditions["audio"].codec == audio_codec
    source = file_packets(path)
    for kind in ("video", "audio"):
        assert len(units[kind]) >= 60
        for unit in units[kind]:
            assert unit.payload == source[kind][unit.timestamp_us], f"{kind} at {unit.timestamp_us} us changed"
    assert all(f.width == 640 for f in decoded["video"])


async def test_other_codecs_are_transcoded(relay: Relay, publisher: Any) -> None:
    await publisher("--name", "room/avi.hang", "--file", str(SAMPLES / "mpeg4-mp3.avi"))
    async with hang.connect(url(relay), client_config(relay)) as session:
        catalog, decoded, _ = await watch(session, "room/avi.hang", 30, 30)
    assert catalog.video.renditions["video"].codec.startswith("avc3.")
    assert catalog.audio.renditions["audio"].codec == "opus"
    pcm = np.concatenate([f.to_ndarray().reshape(-1)[::2] for f in decoded["audio"]])
    assert abs(dominant_frequency(pcm) - 440) < 5


@pytest.mark.parametrize(("args", "message"), [
    (["--file", "missing.mp4"], "no such file: missing.mp4"),
    (["--camera", "/dev/video99"], "cannot open v4l2 device /dev/video99"),
    (["--camera", "nosuchsource", "--input-format", "lavfi"], "cannot open lavfi device nosuchsource"),
    ([], "choose a source"),
])
async def test_bad_sources_are_one_readable_line(relay: Relay, publisher: Any, args: list[str], message: str) -> None:
    process = await publisher("--name", "room/bad.hang", *args)
    _, stderr = await asyncio.wait_for(process.communicate(), 20)
    lines = stderr.decode().strip().splitlines()
    assert process.returncode == 1
    assert len(lines) == 1 and lines[0].startswith("hang publish: error:") and message in lines[0], lines


async def test_publisher_reconnects_when_the_relay_comes_back(tmp_path: Path) -> None:
    cert = tls.generate(tmp_path)
    first = Relay(RelayConfig(host="127.0.0.1", port=0, certfile=cert.certfile, keyfile=cert.keyfile))
    await first.start()
    port = first.port
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hang", "publish", f"https://127.0.0.1:{port}/", "--tls-fingerprint", cert.fingerprint,
        "--name", "room/back.hang", "--test-pattern", "--size", "320x240",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        config = hang.ClientConfig(fingerprints=[cert.fingerprint])
        async with hang.connect(f"https://127.0.0.1:{port}/", config) as session:
            await watch(session, "room/back.hang", 10)
        await first.stop()
        await asyncio.sleep(1.5)
        second = Relay(RelayConfig(host="127.0.0.1", port=port, certfile=cert.certfile, keyfile=cert.keyfile))
        await second.start()
        try:
            async with hang.connect(f"https://127.0.0.1:{port}/", config) as session:
                _, decoded, units = await watch(session, "room/back.hang", 10, timeout=20)
            assert units["video"][0].keyframe  # resumes with a fresh group
        finally:
            await second.stop()
    finally:
        process.kill()
        await process.wait()


async def test_moq_rs_plays_what_hang_publish_sends(relay: Relay, publisher: Any) -> None:
    await publisher("--name", "room/forrust.hang", "--test-pattern", "--size", "320x240")
    async with peer("subscribe-media", url(relay), "--fingerprint", relay.fingerprint, "--prefix", "room",
                    "--name", "room/forrust.hang", "--frames", "45") as sub:
        done = await sub.expect("done", timeout=30)
    media = [e for e in sub.events if e["event"] == "media"]
    assert "error" not in [e["event"] for e in sub.events]
    assert done["video"] >= 45 and done["audio"] > 0
    video = [e for e in media if e["track"] == "video"]
    assert video[0]["keyframe"] and video[0]["nal_types"][:2] == [7, 8]


async def test_a_new_subscriber_on_a_stale_group_asks_for_a_keyframe() -> None:
    import time as clock

    from hang.catalog import VideoConfig
    from hang.publish.broadcast import FRESH_KEYFRAME_AFTER, MediaBroadcast

    requests: list[float] = []
    broadcast = MediaBroadcast({"video"})
    packager = broadcast.add_video("video", VideoConfig(codec="vp8"), on_keyframe_wanted=lambda: requests.append(1))
    track = packager.track
    track.consume().close()  # nothing published yet: the subscriber would wait for a keyframe
    assert len(requests) == 1
    track.append_group()
    track.consume().close()  # a fresh group: nothing to ask
    assert len(requests) == 1
    track.latest.created = clock.monotonic() - FRESH_KEYFRAME_AFTER - 0.1  # type: ignore[union-attr]
    track.consume().close()
    assert len(requests) == 2


async def test_microphone_through_a_pulseaudio_null_sink(relay: Relay, tmp_path: Path) -> None:
    import subprocess

    from tests.pulse import pulse_server, write_tone

    tone = write_tone(tmp_path / "tone.wav", 880.0, 30.0)
    with pulse_server() as env:
        player = subprocess.Popen(["paplay", "--device=hangtest", str(tone)], env=env)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hang", "publish", url(relay), "--tls-fingerprint", relay.fingerprint,
            "--name", "room/mic.hang", "--mic", env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        try:
            async with hang.connect(url(relay), client_config(relay)) as session:
                catalog, decoded, _ = await watch(session, "room/mic.hang", 0, 100)
        finally:
            process.send_signal(signal.SIGINT)
            await asyncio.wait_for(process.wait(), 10)
            player.kill()
            player.wait()
    assert catalog.video is None and catalog.audio.renditions["audio"].codec == "opus"
    pcm = np.concatenate([f.to_ndarray().reshape(-1)[::2] for f in decoded["audio"]])
    assert np.abs(pcm).max() > 0.1, "silence: the microphone captured nothing"
    assert abs(dominant_frequency(pcm) - 880) < 5
    assert process.returncode == 0


async def test_screen_capture_of_a_virtual_display(relay: Relay, publisher: Any) -> None:
    from tests.xvfb import virtual_display

    with virtual_display(640, 480) as display:
        await publisher("--name", "room/screen.hang", "--screen", display, "--size", "640x480", "--fps", "15")
        async with hang.connect(url(relay), client_config(relay)) as session:
            catalog, decoded, _ = await watch(session, "room/screen.hang", 10)
    assert catalog.video.renditions["video"].coded_width == 640
    assert len(decoded["video"]) >= 10 and decoded["video"][0].height == 480
