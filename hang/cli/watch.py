"""``hang watch``: discover a room's participants and play them (window, speakers, recording or stats)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from hang.cli.common import add_client, client_config, stop_on_signals
from hang.errors import HangError, MediaError
from hang.media.reader import MediaFrame
from hang.publish.runner import BACKOFF_MAX, BACKOFF_START
from hang.session.client import connect
from hang.watch.participant import Limits, Participant
from hang.watch.record import Recorder
from hang.watch.room import Room
from hang.wire.coding import normalize_path

log = logging.getLogger("hang.watch")

#: Delay between a picture arriving and being shown, matching the audio jitter buffer.
PLAYOUT_DELAY = 0.1


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``hang watch``."""
    parser = sub.add_parser("watch", help="watch everyone in a room (or one broadcast)")
    add_client(parser)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--room", help="room prefix, e.g. room/ (every broadcast under it)")
    target.add_argument("--name", help="one broadcast, e.g. room/alice.hang")
    parser.add_argument("--headless", action="store_true", help="no window: print stats each second")
    parser.add_argument("--record", type=Path, metavar="DIR", help="write each participant to DIR/<name>.mkv")
    parser.add_argument("--no-audio", action="store_true", help="do not play sound")
    parser.add_argument("--audio-device", help="PortAudio output device (name or number)")
    parser.add_argument("--max-height", type=int, help="pick the best video rendition up to this height")
    parser.add_argument("--max-bitrate", type=int, help="pick the best video rendition up to this bitrate")
    parser.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds")
    parser.add_argument("--screenshot", type=Path, help="save the window to this PNG when stopping")
    parser.add_argument("--screenshots", type=Path, metavar="DIR", help="save the window to DIR every second")
    parser.set_defaults(run=run)


class Presenter:
    """Routes decoded media to the window, the speakers and the recorders."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.window: Any = None
        self.mixer: Any = None
        self.recorders: dict[str, Recorder] = {}
        self.record_dir: Path | None = args.record
        if not args.headless:
            from hang.watch.window import Window

            self.window = Window(f"hang watch {args.room or args.name}")
        self.audio = not args.no_audio
        self.audio_device: str | int | None = (int(args.audio_device) if args.audio_device and
                                               args.audio_device.isdigit() else args.audio_device)
        self.headless = args.headless

    def _open_audio(self) -> None:
        # Opened with the first sound, so a room without audio never needs an output device.
        from hang.watch.audio import AudioMixer

        self.audio = False
        try:
            self.mixer = AudioMixer(self.audio_device)
        except MediaError as exc:
            log.warning("no sound: %s", exc)

    def sink(self, participant: Participant, kind: str, frame: Any, unit: MediaFrame) -> None:
        """Called with every decoded frame."""
        if kind != "audio":
            return
        if self.audio:
            self._open_audio()
        if self.mixer is not None:
            self.mixer.add(participant.path, frame)

    def record(self, participant: Participant, kind: str, unit: MediaFrame) -> None:
        """Called with every received media unit (before decoding)."""
        if self.record_dir is None:
            return
        recorder = self.recorders.get(participant.path)
        if recorder is None:
            recorder = self.recorders[participant.path] = Recorder(self.record_dir, participant.path)
        for rendition_kind, chosen in (("video", participant.video), ("audio", participant.audio)):
            if chosen is not None:
                recorder.add(rendition_kind, chosen[1])
        recorder.write(kind, unit)

    def left(self, path: str) -> None:
        if self.mixer is not None:
            self.mixer.remove(path)
        recorder = self.recorders.pop(path, None)
        if recorder is not None:
            recorder.close()

    def present(self, participants: list[Participant]) -> None:
        """Show each participant's picture that is due, then redraw."""
        now = time.monotonic()
        for participant in participants:
            queue = participant.video_queue
            while queue and queue[0][1] + PLAYOUT_DELAY <= now:
                participant.latest_video = queue.popleft()[2]
        if self.window is not None:
            self.window.handle_events()
            self.window.draw(participants)

    def close(self, screenshot: Path | None) -> None:
        if self.window is not None:
            if screenshot is not None:
                self.window.screenshot(str(screenshot))
            self.window.close()
        if self.mixer is not None:
            self.mixer.close()
        for path in list(self.recorders):
            self.left(path)


def stats_line(participant: Participant) -> str:
    """One line of headless stats."""
    s = participant.stats
    elapsed = max(1e-3, time.monotonic() - s.started)
    state = f"error: {participant.error}" if participant.error else (
        f"{s.frames / elapsed:5.1f} fps  {s.bytes * 8 / elapsed / 1e6:5.2f} Mbit/s  "
        f"latency +{s.latency_ms:5.1f} ms  skipped groups {s.groups_skipped}  audio frames {s.audio_frames}")
    return f"{participant.path}: {state}"


class Viewer:
    """The presentation loop, kept across reconnections."""

    def __init__(self, args: argparse.Namespace, presenter: Presenter, stop: asyncio.Event) -> None:
        self.args = args
        self.presenter = presenter
        self.stop = stop
        self.known: set[str] = set()
        self.started = time.monotonic()
        self.last_stats = self.started
        self.shots = 0

    @property
    def finished(self) -> bool:
        """True once the user or the duration ended the viewing."""
        window = self.presenter.window
        over = bool(self.args.duration) and time.monotonic() - self.started >= self.args.duration
        return self.stop.is_set() or over or (window is not None and window.closed)

    async def watch(self, room: Room, closed: asyncio.Future[None], room_task: asyncio.Future[None]) -> None:
        """Present ``room`` until the viewing ends or the session does."""
        while not self.finished and not closed.done() and not room_task.done():
            self.step(list(room.participants.values()))
            await asyncio.sleep(1 / 60)
        for path in list(self.known):
            self.known.discard(path)
            self.presenter.left(path)

    def step(self, participants: list[Participant]) -> None:
        """One redraw: arrivals and departures, pictures that are due, stats and screenshots."""
        for participant in participants:
            if participant.path not in self.known:
                self.known.add(participant.path)
                print(f"+ {participant.path}", flush=True)
        for path in self.known - {p.path for p in participants}:
            self.known.discard(path)
            self.presenter.left(path)
            print(f"- {path}", flush=True)
        self.presenter.present(participants)
        now = time.monotonic()
        if now - self.last_stats >= 1.0:
            self.last_stats = now
            if self.args.headless:
                for participant in participants:
                    print(stats_line(participant), flush=True)
            if self.args.screenshots and self.presenter.window is not None:
                self.args.screenshots.mkdir(parents=True, exist_ok=True)
                self.shots += 1
                self.presenter.window.screenshot(str(self.args.screenshots / f"{self.shots:03d}.png"))


async def run(args: argparse.Namespace) -> int:
    """Watch until interrupted, the window closes, or the duration passes; reconnect if the relay goes away."""
    only = normalize_path(args.name) if args.name else None
    prefix = only.rsplit("/", 1)[0] if only and "/" in only else (normalize_path(args.room) if args.room else "")
    presenter = Presenter(args)
    stop = asyncio.Event()
    viewer = Viewer(args, presenter, stop)
    limits = Limits(args.max_height, args.max_bitrate)
    connected_once = False
    backoff = BACKOFF_START
    try:
        with stop_on_signals(stop):
            while not viewer.finished:
                try:
                    async with connect(args.url, client_config(args)) as session:
                        connected_once, backoff = True, BACKOFF_START
                        room = Room(session, prefix, only=only, limits=limits, sinks=[presenter.sink],
                                    unit_sinks=[presenter.record])
                        room_task = asyncio.ensure_future(room.run())
                        closed = asyncio.ensure_future(session.wait_closed())
                        try:
                            await viewer.watch(room, closed, room_task)
                        finally:
                            room_task.cancel()
                            closed.cancel()
                            room.close()
                except HangError as exc:
                    if not connected_once:
                        raise
                    log.warning("lost the relay (%s)", exc)
                if viewer.finished:
                    break
                log.warning("reconnecting in %.0f s", backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
    finally:
        presenter.close(args.screenshot)
    return 0
