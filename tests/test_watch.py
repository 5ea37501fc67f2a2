"""``hang watch`` as a user runs it: a window under Xvfb, sound through PulseAudio, recordings, stats."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import av
import numpy as np
import pygame
import pytest

import hang
from hang.relay import Relay
from tests.conftest import client_config, url
from tests.media_util import dominant_frequency
from tests.peers.harness import peer
from tests.pulse import pulse_server, record
from tests.xvfb import virtual_display

BACKGROUND = (24, 24, 28)


async def start(relay: Relay, command: str, *args: str, env: dict[str, str] | None = None) -> Any:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hang", command, url(relay), "--tls-fingerprint", relay.fingerprint, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)


async def stop(process: Any) -> tuple[str, str]:
    if process.returncode is None:
        process.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(process.communicate(), 15)
    return out.decode(), err.decode()


def load(path: Path) -> np.ndarray:
    image = pygame.image.load(str(path))
    return pygame.surfarray.array3d(image).swapaxes(0, 1)


def is_background(pixel: np.ndarray) -> bool:
    return bool(np.all(np.abs(pixel.astype(int) - BACKGROUND) < 4))


async def test_window_shows_a_moving_tile_per_participant_and_drops_leavers(relay: Relay, tmp_path: Path) -> None:
    alice = await start(relay, "publish", "--name", "room/alice.hang", "--test-pattern", "--size", "640x360")
    bob = await start(relay, "publish", "--name", "room/bob.hang", "--test-pattern", "--size", "640x360")
    shots = tmp_path / "shots"
    with virtual_display() as display:
        env = dict(os.environ, DISPLAY=display)
        watcher = await start(relay, "watch", "--room", "room/", "--no-audio", "--duration", "8",
                              "--screenshots", str(shots), env=env)
        await asyncio.sleep(4.5)
        await stop(bob)
        out, err = await asyncio.wait_for(watcher.communicate(), 30)
    await stop(alice)
    assert watcher.returncode == 0, err
    lines = out.decode().splitlines()
    assert "+ room/alice.hang" in lines and "+ room/bob.hang" in lines and "- room/bob.hang" in lines
    pictures = [load(p) for p in sorted(shots.glob("*.png"))]
    assert len(pictures) >= 6
    # Two 16:9 tiles side by side leave the top band empty; each tile is a live, changing picture.
    both = [i for i, p in enumerate(pictures[:-1])
            if is_background(p[40, 640]) and not is_background(p[360, 320]) and not is_background(p[360, 960])]
    assert both, "never saw two tiles"
    two, later, one = pictures[both[0]], pictures[both[0] + 1], pictures[-1]
    for x in (320, 960):
        tile_now, tile_later = two[200:520, x - 300 : x + 300], later[200:520, x - 300 : x + 300]
        assert tile_now.mean() > 30, "a black tile"
        assert np.abs(tile_now.astype(int) - tile_later.astype(int)).mean() > 2, "a frozen tile"
    # Bob left: alice alone fills the window.
    assert not is_background(one[40, 640])


async def test_sound_of_a_participant_reaches_the_speakers(relay: Relay, tmp_path: Path) -> None:
    publisher = await start(relay, "publish", "--name", "room/carol.hang", "--test-pattern", "--size", "320x240",
                            "--tone", "660")
    with pulse_server() as env:
        recording = tmp_path / "sink.raw"
        with record(env, recording):
            watcher = await start(relay, "watch", "--name", "room/carol.hang", "--headless", "--duration", "5",
                                  env=env)
            out, err = await asyncio.wait_for(watcher.communicate(), 30)
    await stop(publisher)
    assert watcher.returncode == 0, err
    samples = np.frombuffer(recording.read_bytes(), "<f4")[::2]
    loud = np.flatnonzero(np.abs(samples) > 0.05)
    assert len(loud) > 48000, "less than a second of sound reached the sink"
    assert abs(dominant_frequency(samples[loud[0] : loud[-1]]) - 660) < 5
    assert "room/carol.hang:" in out.decode()  # the stats lines


async def test_record_a_moq_rs_broadcast(relay: Relay, tmp_path: Path) -> None:
    async with peer("publish-media", url(relay), "--fingerprint", relay.fingerprint, "--name", "room/rust.hang",
                    "--seconds", "6") as rust:
        await rust.expect("announced")
        watcher = await start(relay, "watch", "--name", "room/rust.hang", "--headless", "--no-audio",
                              "--record", str(tmp_path), "--duration", "4")
        out, err = await asyncio.wait_for(watcher.communicate(), 30)
    assert watcher.returncode == 0, err
    files = list(tmp_path.glob("*.mkv"))
    assert len(files) == 1
    with av.open(str(files[0])) as container:
        kinds = {s.type: s.codec_context.name for s in container.streams}
        assert kinds == {"video": "h264", "audio": "opus"}
        pictures = list(container.decode(video=0))
    with av.open(str(files[0])) as container:
        sounds = list(container.decode(audio=0))
    duration = (pictures[-1].pts - pictures[0].pts) * pictures[0].time_base
    assert len(pictures) >= 60 and 2.0 <= float(duration) <= 5.0
    assert len(sounds) > 100


async def test_a_broken_participant_does_not_stop_the_others(relay: Relay) -> None:
    good = await start(relay, "publish", "--name", "room/good.hang", "--test-pattern", "--size", "320x240")
    async with hang.connect(url(relay), client_config(relay)) as session:
        broken = hang.BroadcastProducer()
        catalog = broken.create_track("catalog.json")
        catalog.write_frame(b'{"video":{"renditions":{"v":{"codec":"vp8","codedWidth":"wide"}}}}')
        session.publish("room/broken.hang", broken.consume())
        watcher = await start(relay, "watch", "--room", "room/", "--headless", "--duration", "4")
        out, err = await asyncio.wait_for(watcher.communicate(), 30)
    await stop(good)
    assert watcher.returncode == 0, err
    lines = out.decode().splitlines()
    broken_lines = [line for line in lines if line.startswith("room/broken.hang:")]
    good_lines = [line for line in lines if line.startswith("room/good.hang:")]
    assert broken_lines and "error: catalog" in broken_lines[-1] and "codedWidth" in broken_lines[-1]
    assert good_lines and " fps" in good_lines[-1] and not good_lines[-1].split(": ", 1)[1].startswith("0.0")


@pytest.mark.parametrize("args", [["--room", "room/"], ["--name", "room/x.hang"]])
async def test_unreachable_relay_is_one_line(args: list[str]) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hang", "watch", "http://127.0.0.1:9/", "--headless", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 1
    assert err.decode().strip().startswith("hang watch: error: could not fetch")


async def test_viewer_reconnects_when_the_relay_comes_back(tmp_path: Path) -> None:
    from hang.relay import RelayConfig
    from hang.transport import tls

    cert = tls.generate(tmp_path)
    first = Relay(RelayConfig(host="127.0.0.1", port=0, certfile=cert.certfile, keyfile=cert.keyfile))
    await first.start()
    port = first.port
    common = [f"https://127.0.0.1:{port}/", "--tls-fingerprint", cert.fingerprint]
    publisher = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hang", "publish", *common, "--name", "room/dave.hang", "--test-pattern", "--size",
        "320x240", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    watcher = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hang", "watch", *common, "--room", "room/", "--headless", "--no-audio",
        "--duration", "12", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await asyncio.sleep(3)
        await first.stop()
        await asyncio.sleep(1)
        second = Relay(RelayConfig(host="127.0.0.1", port=port, certfile=cert.certfile, keyfile=cert.keyfile))
        await second.start()
        try:
            out, err = await asyncio.wait_for(watcher.communicate(), 30)
        finally:
            await second.stop()
    finally:
        publisher.kill()
        await publisher.wait()
    lines = out.decode().splitlines()
    assert watcher.returncode == 0, err
    assert lines.count("+ room/dave.hang") == 2, lines
    assert "reconnecting" in err.decode()
    stats = [line for line in lines if line.startswith("room/dave.hang:")]
    assert " fps" in stats[-1] and "error" not in stats[-1]
