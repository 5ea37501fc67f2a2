"""``hang publish``: put a camera, microphone, screen, test pattern or file into a room."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hang.cli.common import add_client, client_config, stop_on_signals
from hang.errors import HangError, MediaError
from hang.media import capture
from hang.media.encode import AUDIO_ENCODERS, VIDEO_ENCODERS, AudioEncoder, VideoEncoder
from hang.publish.broadcast import MediaBroadcast
from hang.publish.file import FilePublisher
from hang.publish.live import pump_audio, pump_video
from hang.publish.runner import keep_published
from hang.wire.coding import normalize_path

log = logging.getLogger("hang.publish")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``hang publish``."""
    parser = sub.add_parser("publish", help="publish a camera, microphone, screen, test pattern or file")
    add_client(parser)
    parser.add_argument("--name", required=True, help="broadcast path, e.g. room/alice.hang")
    source = parser.add_argument_group("sources (one or more)")
    source.add_argument("--test-pattern", action="store_true", help="moving pattern with a clock, and a tone")
    source.add_argument("--camera", nargs="?", const="", metavar="DEVICE", help="camera (default device if none)")
    source.add_argument("--screen", nargs="?", const="", metavar="DISPLAY", help="screen capture (x11grab on Linux)")
    source.add_argument("--mic", nargs="?", const="", metavar="DEVICE", help="microphone (PortAudio device)")
    source.add_argument("--file", type=Path, help="a media file; H.264/AAC/Opus/VP8/VP9/AV1 pass through")
    source.add_argument("--input-format", metavar="FORMAT",
                        help="FFmpeg input format for --camera/--screen (default: v4l2/x11grab, avfoundation, "
                             "dshow/gdigrab by platform; e.g. lavfi for a synthetic source)")
    source.add_argument("--list-devices", action="store_true", help="list audio and video devices and exit")
    media = parser.add_argument_group("encoding")
    media.add_argument("--size", default="1280x720", help="capture size WxH (default 1280x720)")
    media.add_argument("--fps", type=float, default=30.0, help="frames per second (default 30)")
    media.add_argument("--bitrate", type=int, default=2_000_000, help="video bits per second (default 2000000)")
    media.add_argument("--keyframe-interval", type=float, default=2.0, help="seconds between keyframes (default 2)")
    media.add_argument("--video-codec", choices=sorted(VIDEO_ENCODERS), default="h264")
    media.add_argument("--audio-codec", choices=sorted(AUDIO_ENCODERS), default="opus")
    media.add_argument("--tone", type=float, default=440.0, help="test pattern tone in Hz (default 440)")
    files = parser.add_argument_group("files")
    files.add_argument("--fast", action="store_true", help="do not pace the file at real time")
    files.add_argument("--loop", action="store_true", help="start the file again at its end")
    files.add_argument("--no-progress", action="store_true", help="no progress line")
    parser.set_defaults(run=run)


def list_devices() -> int:
    """Print the audio devices PortAudio sees and the video inputs this PyAV build can open."""
    try:
        import sounddevice

        print("audio devices (use the number or name with --mic):")
        print(sounddevice.query_devices())
    except OSError as exc:
        print(f"audio devices: unavailable ({exc})")
    video_format = capture.input_format_for("camera")
    cameras = sorted(str(p) for p in Path("/dev").glob("video*"))
    state = "available" if capture.input_available(video_format) else "missing"
    print(f"video input {video_format}: {state} in this PyAV build; devices: {', '.join(cameras) or 'none found'}")
    screen = capture.input_format_for("screen")
    print(f"screen input {screen}: {'available' if capture.input_available(screen) else 'missing'}")
    return 0


def video_size(text: str) -> tuple[int, int]:
    """``1280x720`` -> (1280, 720)."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise MediaError(f"--size wants WIDTHxHEIGHT, got {text!r}") from None
    return width, height


def open_sources(args: argparse.Namespace) -> tuple[Any, Any]:
    """The video and audio sources the options ask for (either may be None)."""
    width, height = video_size(args.size)
    video: Any = None
    audio: Any = None
    if args.test_pattern:
        video = capture.TestPatternVideo(width, height, args.fps)
        audio = capture.TestPatternAudio(args.tone)
    if args.camera is not None:
        video = capture.DeviceVideoSource(args.camera or capture.default_device("camera"),
                                          args.input_format or capture.input_format_for("camera"),
                                          size=None if args.input_format == "lavfi" else args.size, fps=args.fps
                                          if args.input_format != "lavfi" else None)
    if args.screen is not None:
        video = capture.DeviceVideoSource(args.screen or capture.default_device("screen"),
                                          args.input_format or capture.input_format_for("screen"),
                                          size=args.size, fps=args.fps)
    if args.mic is not None:
        device: str | int | None = args.mic or None
        if isinstance(device, str) and device.isdigit():
            device = int(device)
        audio = capture.MicrophoneSource(device)
    return video, audio


async def run(args: argparse.Namespace) -> int:
    """Capture/read, encode, package and publish until interrupted (or the file ends)."""
    if args.list_devices:
        return list_devices()
    path = normalize_path(args.name)
    chosen = [args.test_pattern, args.camera is not None, args.screen is not None, args.mic is not None, args.file]
    if not any(chosen):
        raise MediaError("choose a source: --test-pattern, --camera, --screen, --mic or --file")
    if args.file and any(chosen[:4]):
        raise MediaError("--file cannot be combined with live sources")
    stop = asyncio.Event()
    tasks: list[asyncio.Future[None]] = []
    on_connected: Callable[[], None] | None = None
    with stop_on_signals(stop):
        if args.file:
            broadcast = MediaBroadcast()
            publisher = FilePublisher(args.file, broadcast, fast=args.fast, loop=args.loop,
                                      progress=not args.no_progress)
            broadcast.expect = {entry.name for entry in publisher.streams.values()}
            connected = asyncio.Event()
            on_connected = connected.set
            tasks.append(asyncio.ensure_future(_until_done(publisher.run(stop, connected), stop)))
        else:
            video, audio = open_sources(args)
            broadcast = MediaBroadcast({kind for kind, source in (("video", video), ("audio", audio)) if source})
            if video is not None:
                encoder = VideoEncoder(args.video_codec, bitrate=args.bitrate, framerate=args.fps,
                                       keyframe_interval=args.keyframe_interval)
                on_connected = encoder.request_keyframe
                tasks.append(asyncio.ensure_future(pump_video(video, encoder, broadcast, "video", stop)))
            if audio is not None:
                tasks.append(asyncio.ensure_future(pump_audio(audio, AudioEncoder(args.audio_codec), broadcast,
                                                              "audio", stop)))
        try:
            await keep_published(args.url, client_config(args), path, broadcast, stop, on_connected)
        finally:
            stop.set()
            results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, HangError):
            raise result
    return 0


async def _until_done(work: Any, stop: asyncio.Event) -> None:
    try:
        await work
    finally:
        stop.set()
