"""The official web player and publisher (npm @moq/watch, @moq/publish) in headless Chromium, against our relay.

The browser loads the relay's own page (``/``, from ``hang/relay/web/index.html``), which loads the bundled
official elements from ``/assets/`` (built by ``.ci/setup``). Chromium connects with WebTransport, pinning
the relay's certificate through ``/certificate.sha256``. Never skipped: a missing prerequisite fails with a
hint to run ``.ci/setup`` (see ``tests/web/browser.py``).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from hang.relay import Relay
from tests.conftest import url
from tests.web.browser import Browser

LISTED = "[...document.querySelectorAll('#list a')].map((a) => a.textContent).join(' ')"
PLAYER = "document.querySelector('moq-watch')"
PUBLISHER = "document.querySelector('moq-publish')"
# What the player does, from its own signals (Watch.Video.Decoder outputs): how many frames its WebCodecs
# VideoDecoder produced, the timestamp (ms) of the frame on show, and whether it waits for frames (spinner).
PLAYING = (f"(({{stats, timestamp, stalled}}) => ({{frames: stats.peek()?.frameCount ?? 0, "
           f"timestamp: timestamp.peek() ?? 0, stalled: stalled.peek()}}))({PLAYER}.video.out)")
# The session the element established: its wire version and transport ("webtransport" or "websocket").
SESSION = "(() => {{ const s = {el}.connection.established.peek(); " \
          "return s && {{ version: s.version, transport: s.transport ?? null }}; }})()"
# Codec names as WebCodecs strings start (catalog) and as FFmpeg names them (recording).
FFMPEG_CODECS = {"avc1": "h264", "avc3": "h264", "vp8": "vp8", "vp09": "vp9", "av01": "av1", "opus": "opus"}


async def start(relay: Relay, command: str, *args: str, scheme: str = "https") -> Any:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hang", command, url(relay, scheme), "--tls-fingerprint", relay.fingerprint, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def stop(process: Any) -> tuple[str, str]:
    if process.returncode is None:
        process.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(process.communicate(), 15)
    return out.decode(), err.decode()


async def pattern_publisher(relay: Relay, *args: str) -> Any:
    """``hang publish --test-pattern`` over raw QUIC, so the only WebTransport session is the browser's."""
    return await start(relay, "publish", "--test-pattern", *args, scheme="moql")


def picture(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return frame.to_ndarray(format="rgb24")


def smooth(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether the player played on between two PLAYING states, without waiting for frames."""
    return (not before["stalled"] and not after["stalled"] and after["frames"] - before["frames"] >= 10
            and 500 <= after["timestamp"] - before["timestamp"] <= 5000)


async def screenshots_a_second_apart(browser: Browser, page: str, first: Path, second: Path) -> tuple[Any, Any]:
    """Screenshot the player's canvas twice, a second apart, while it plays; the PLAYING states around them.

    Tried again (a few times) when the player waited for frames meanwhile, as on a busy machine.
    """
    seen = []
    for _ in range(5):
        await browser.wait(page, f"!{PLAYER}.video.out.stalled.peek()")
        before = await browser.eval(page, PLAYING)
        await browser.call("screenshot", page=page, path=str(first), selector="moq-watch canvas")
        await asyncio.sleep(1)
        await browser.call("screenshot", page=page, path=str(second), selector="moq-watch canvas")
        after = await browser.eval(page, PLAYING)
        if smooth(before, after):
            return before, after
        seen.append((before, after))
    raise AssertionError(f"the player never played a second through: {seen}")


def changed(one: np.ndarray, two: np.ndarray) -> float:
    """The share of pixels that differ clearly (by more than 40 in a channel) between two pictures."""
    return float((np.abs(one.astype(int) - two.astype(int)).max(axis=2) > 40).mean())


def webtransport_sessions(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The relay's "session open <remote> webtransport <version> path=/" lines."""
    return [m for m in caplog.messages if m.startswith("session open") and " webtransport " in m]


async def test_relay_page_lists_broadcasts_live_and_plays_one(
        relay: Relay, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="hang.relay")
    alice = await pattern_publisher(relay, "--name", "room/alice.hang", "--size", "640x360")
    bob = await pattern_publisher(relay, "--name", "room/bob.hang", "--size", "320x180", "--fps", "10")
    try:
        async with Browser.launch() as browser:
            await browser.open("w", url(relay, "http"))
            # Both publishers show up in the list (the page polls /announced/room every second).
            assert await browser.wait("w", f"{LISTED} === 'room/alice.hang room/bob.hang' && {LISTED}") \
                == "room/alice.hang room/bob.hang"
            await browser.call("click", page="w", selector='#list a:text-is("room/alice.hang")')
            assert "watch=room%2Falice.hang" in await browser.eval("w", "location.search")
            await browser.wait("w", f"{PLAYER}?.video.out.stats.peek()?.frameCount >= 30", timeout=20)
            await asyncio.sleep(1.5)  # past the start, where the player races through the cached group
            session = await browser.eval("w", SESSION.format(el=PLAYER))
            status = await browser.eval("w", f"{PLAYER}.broadcast.out.status.peek()")

            # Two screenshots of the player's canvas, a second apart, while it plays.
            first, second = tmp_path / "frame-1.png", tmp_path / "frame-2.png"
            before, after = await screenshots_a_second_apart(browser, "w", first, second)
            await browser.call("screenshot", page="w", path=str(tmp_path / "page.png"))

            # Bob leaves: he disappears from the list while alice keeps playing.
            await stop(bob)
            assert await browser.wait("w", f"{LISTED} === 'room/alice.hang'")
            now = await browser.eval("w", PLAYING)
            await browser.wait("w", f"{PLAYER}.video.out.stats.peek().frameCount >= {now['frames'] + 10} && "
                                    f"{PLAYER}.video.out.timestamp.peek() >= {now['timestamp'] + 300}")
            logs = browser.logs("w")
            errors = browser.errors()
    finally:
        await stop(alice)
        await stop(bob)

    assert not errors, errors
    assert session == {"version": "moq-lite-05", "transport": "webtransport"}, session
    assert any(line.endswith("connected via WebTransport") for line in logs), logs
    assert any(line.endswith("negotiated ALPN: moq-lite-05") for line in logs), logs
    opened = webtransport_sessions(caplog)
    assert opened and all(" webtransport lite-05 path=/" in line for line in opened), opened
    assert status == "live"
    # The player decodes about 30 frames a second and moves on in time (at least 10 frames, 0.5 s).
    assert after["frames"] - before["frames"] >= 10 and after["timestamp"] - before["timestamp"] >= 500
    # And shows it: a real picture (not black) that is different a second later.
    one, two = picture(first), picture(second)
    assert one.shape == two.shape and one.shape[0] >= 180, one.shape
    assert one.mean() > 40 and two.mean() > 40, "a black picture"
    assert changed(one, two) > 0.01, "a frozen picture"


async def test_official_publisher_reaches_hang_watch(
        relay: Relay, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="hang.relay")
    async with Browser.launch() as browser:
        # Chromium's fake camera (a moving test card) and microphone (a beep) feed <moq-publish>.
        await browser.open("p", url(relay, "http", "/?publish=room/web.hang"))
        deadline = time.monotonic() + 15
        while "room/web.hang" not in relay.origin.paths("room"):
            assert time.monotonic() < deadline, "the publisher never announced:\n" + "\n".join(browser.logs("p"))
            await asyncio.sleep(0.1)
        catalog = await browser.wait("p", f"(({{video, audio}}) => video && audio && {{video, audio}})"
                                          f"({PUBLISHER}.broadcast.catalog.value ?? {{}})")
        session = await browser.eval("p", SESSION.format(el=PUBLISHER))
        watcher = await start(relay, "watch", "--name", "room/web.hang", "--headless", "--no-audio",
                              "--record", str(tmp_path), "--duration", "5", scheme="moql")
        out, err = await asyncio.wait_for(watcher.communicate(), 30)
        # The official player plays it too, through the relay's page: browser to browser.
        await browser.open("w", url(relay, "http", "/?watch=room/web.hang"))
        await browser.wait("w", f"{PLAYER}?.video.out.stats.peek()?.frameCount >= 20", timeout=20)
        logs = browser.logs("p")
        errors = browser.errors()
    assert watcher.returncode == 0, err
    assert not errors, errors

    assert session["version"] == "moq-lite-04", session  # @moq/publish's @moq/net 0.1.9 offers lite-04/03
    assert any(line.endswith("connected via WebTransport") for line in logs), logs
    opened = webtransport_sessions(caplog)
    assert len(opened) == 2, opened
    assert " webtransport lite-04 path=/" in opened[0] and " webtransport lite-05 path=/" in opened[1], opened

    # The recording holds what the catalog announced: e.g. H.264 (avc1) video and Opus audio.
    [video_rendition] = catalog["video"]["renditions"].values()
    [audio_rendition] = catalog["audio"]["renditions"].values()
    expected = {kind: FFMPEG_CODECS[rendition["codec"].split(".")[0]]
                for kind, rendition in (("video", video_rendition), ("audio", audio_rendition))}
    [recording] = tmp_path.glob("*.mkv")
    with av.open(str(recording)) as container:
        assert {s.type: s.codec_context.name for s in container.streams} == expected
        pictures = list(container.decode(video=0))
    with av.open(str(recording)) as container:
        sounds = list(container.decode(audio=0))
    assert len(pictures) >= 30, len(pictures)
    assert (pictures[0].width, pictures[0].height) == (video_rendition["codedWidth"], video_rendition["codedHeight"])
    first, last = (p.to_ndarray(format="rgb24") for p in (pictures[0], pictures[-1]))
    assert last.mean() > 20, "a black picture"
    assert changed(first, last) > 0.005, "a frozen picture"  # Chromium's fake camera: a turning pie
    assert len(sounds) >= 50, len(sounds)


async def test_relay_page_says_how_to_get_a_missing_player(relay: Relay, tmp_path: Path) -> None:
    async with Browser.launch() as browser:
        await browser.call("missing", pattern="**/assets/*")  # as before `.ci/setup` built the bundles
        await browser.open("w", url(relay, "http", "/?watch=room/alice.hang"))
        message = await browser.wait("w", "document.querySelector('.error')?.textContent")
        await browser.call("screenshot", page="w", path=str(tmp_path / "missing.png"))
    assert "/assets/moq-watch.js" in message and "bash .ci/setup" in message, message
