"""Media sources as async tracks: devices through PyAV or sounddevice, and a synthetic test pattern.

Every source hands out ``av`` frames with ``pts`` in microseconds (``time_base`` 1/1000000). Device
reads run in worker threads and reach the event loop through bounded queues that drop the oldest
frame, so a stalled consumer never makes capture buffer without bound.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import sys
import threading
import time
from fractions import Fraction
from typing import Any

import av
import numpy as np

from hang.errors import MediaError

log = logging.getLogger("hang.media")

MICROSECONDS = Fraction(1, 1_000_000)
QUEUE_FRAMES = 8


class EndOfTrack(MediaError):
    """The source has no more frames."""


class MediaSource(abc.ABC):
    """An async track of raw frames."""

    kind: str

    @abc.abstractmethod
    async def recv(self) -> Any:
        """The next frame (``pts`` in microseconds); raises :class:`EndOfTrack` at the end."""

    def stop(self) -> None:
        """Release the device."""


class _Latest:
    """A bounded hand-off from a worker thread to the loop that drops the oldest item when full."""

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int = QUEUE_FRAMES) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Any] = asyncio.Queue(size)
        self.dropped = 0

    def put_threadsafe(self, item: Any) -> None:
        self.loop.call_soon_threadsafe(self._put, item)

    def _put(self, item: Any) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(item)

    async def get(self) -> Any:
        item = await self.queue.get()
        if isinstance(item, BaseException):
            self.queue.put_nowait(item)
            raise item
        return item


def input_available(input_format: str) -> bool:
    """True when this PyAV build can open ``input_format`` devices."""
    try:
        av.format.ContainerFormat(input_format, "r")
    except ValueError:
        return False
    return True


def input_format_for(kind: str) -> str:
    """The FFmpeg input device format for a camera or screen on this platform."""
    if kind == "screen":
        return {"darwin": "avfoundation", "win32": "gdigrab"}.get(sys.platform, "x11grab")
    return {"darwin": "avfoundation", "win32": "dshow"}.get(sys.platform, "v4l2")


def default_device(kind: str) -> str:
    """The device name to open when none is given."""
    if kind == "screen":
        return {"darwin": "1:none", "win32": "desktop"}.get(sys.platform, ":0.0")
    return {"darwin": "0:none", "win32": "video=0"}.get(sys.platform, "/dev/video0")


class DeviceVideoSource(MediaSource):
    """Video from an FFmpeg input device (camera, screen) or any input PyAV opens, e.g. ``lavfi``."""

    kind = "video"

    def __init__(self, device: str, input_format: str, *, size: str | None = None, fps: float | None = None,
                 options: dict[str, str] | None = None) -> None:
        if not input_available(input_format):
            raise MediaError(f"this PyAV build has no {input_format!r} input; cannot open {device}")
        opts = dict(options or {})
        if size:
            opts["video_size"] = size
        if fps:
            opts["framerate"] = f"{fps:g}"
        try:
            self.container: Any = av.open(device, format=input_format, options=opts)
        except (av.error.FFmpegError, OSError) as exc:
            raise MediaError(f"cannot open {input_format} device {device}: {exc}") from None
        if not self.container.streams.video:
            raise MediaError(f"{device} has no video")
        self.stream = self.container.streams.video[0]
        self._out = _Latest(asyncio.get_running_loop())
        self._stopped = threading.Event()
        self._start = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"capture {device}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        first: float | None = None
        try:
            for frame in self.container.decode(self.stream):
                if self._stopped.is_set():
                    break
                # Devices pace themselves; a synthetic input (lavfi) would run flat out: hold each frame
                # until its own timestamp comes round.
                if frame.time is not None:
                    if first is None:
                        first = frame.time - (time.monotonic() - self._start)
                    ahead = (frame.time - first) - (time.monotonic() - self._start)
                    if ahead > 0:
                        time.sleep(min(ahead, 1.0))
                frame.pts = int((time.monotonic() - self._start) * 1_000_000)
                frame.time_base = MICROSECONDS
                self._out.put_threadsafe(frame)
            else:
                self._out.put_threadsafe(EndOfTrack("device stream ended"))
        except (av.error.FFmpegError, OSError) as exc:
            self._out.put_threadsafe(MediaError(f"capture failed: {exc}"))
        finally:
            # Closed by the thread that decodes: closing it from another thread while decoding crashes FFmpeg.
            with contextlib.suppress(Exception):
                self.container.close()

    async def recv(self) -> Any:
        return await self._out.get()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=2.0)


class MicrophoneSource(MediaSource):
    """Audio from a sounddevice (PortAudio) input: 20 ms float32 frames at 48 kHz."""

    kind = "audio"

    def __init__(self, device: str | int | None = None, *, sample_rate: int = 48000, channels: int = 2,
                 block_ms: int = 20) -> None:
        try:
            import sounddevice
        except OSError as exc:  # PortAudio library missing
            raise MediaError(f"audio capture needs PortAudio (libportaudio2): {exc}") from None
        self.sample_rate = sample_rate
        self._out = _Latest(asyncio.get_running_loop(), size=50)
        self._samples = 0
        block = sample_rate * block_ms // 1000
        try:
            info = sounddevice.query_devices(device, "input")
            self.channels = min(channels, int(info["max_input_channels"])) or 1
            self.stream = sounddevice.InputStream(device=device, samplerate=sample_rate, channels=self.channels,
                                                  dtype="float32", blocksize=block, callback=self._callback)
            self.stream.start()
        except (sounddevice.PortAudioError, ValueError) as exc:
            raise MediaError(f"cannot open microphone {device if device is not None else '(default)'}: "
                             f"{str(exc).splitlines()[0]}") from None

    def _callback(self, data: np.ndarray, frames: int, timing: Any, status: Any) -> None:
        self._out.put_threadsafe(data.copy())

    async def recv(self) -> Any:
        block = await self._out.get()
        layout = "stereo" if self.channels == 2 else "mono"
        frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="flt", layout=layout)
        frame.sample_rate = self.sample_rate
        frame.pts = self._samples * 1_000_000 // self.sample_rate
        frame.time_base = MICROSECONDS
        self._samples += block.shape[0]
        return frame

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.stream.stop()
            self.stream.close()


_DIGITS = ["1110111", "0010010", "1011101", "1011011", "0111010", "1101011", "1101111", "1010010", "1111111",
           "1111011"]  # seven segments: top, top-left, top-right, middle, bottom-left, bottom-right, bottom


def _draw_digit(image: np.ndarray, digit: int, x: int, y: int, scale: int) -> None:
    w, h, t = 6 * scale, 10 * scale, max(1, scale)
    segments = [(x, y, w, t), (x, y, t, h // 2), (x + w - t, y, t, h // 2), (x, y + h // 2, w, t),
                (x, y + h // 2, t, h // 2), (x + w - t, y + h // 2, t, h // 2), (x, y + h, w, t)]
    for on, (sx, sy, sw, sh) in zip(_DIGITS[digit], segments, strict=True):
        if on == "1":
            image[sy : sy + sh, sx : sx + sw] = 255


class TestPatternVideo(MediaSource):
    """Moving colour bars with a running clock and frame counter, paced at real time."""

    kind = "video"

    def __init__(self, width: int = 1280, height: int = 720, fps: float = 30.0) -> None:
        self.width, self.height, self.fps = width, height, fps
        y, x = np.mgrid[0:height, 0:width]
        self._x, self._y = x, y
        self._index = 0
        self._start: float | None = None

    def picture(self, index: int) -> np.ndarray:
        """The RGB picture of frame ``index``."""
        shift = index * 8
        image = np.empty((self.height, self.width, 3), np.uint8)
        image[..., 0] = ((self._x + shift) * 255 // self.width) % 256
        image[..., 1] = (self._y * 255 // self.height)
        image[..., 2] = ((self._x - shift) // 64 % 2) * 200
        scale = max(2, self.height // 90)
        seconds = index / self.fps
        text = f"{int(seconds // 60) % 100:02d}{int(seconds) % 60:02d}{index % 1000:03d}"
        image[scale * 2 : scale * 16, scale * 2 : scale * (4 + 8 * len(text))] = 0
        for position, char in enumerate(text):
            _draw_digit(image, int(char), scale * (4 + 8 * position), scale * 4, scale)
        return image

    async def recv(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        now_index = int((loop.time() - self._start) * self.fps)
        if now_index > self._index + 1:
            self._index = now_index  # the consumer fell behind: skip frames, as a camera would
        due = self._start + self._index / self.fps
        await asyncio.sleep(max(0.0, due - loop.time()))
        image = await asyncio.to_thread(self.picture, self._index)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = round(self._index * 1_000_000 / self.fps)
        frame.time_base = MICROSECONDS
        self._index += 1
        return frame


class TestPatternAudio(MediaSource):
    """A continuous sine tone in 20 ms frames, paced at real time."""

    kind = "audio"

    def __init__(self, frequency: float = 440.0, sample_rate: int = 48000, channels: int = 2) -> None:
        self.frequency, self.sample_rate, self.channels = frequency, sample_rate, channels
        self._samples = 0
        self._start: float | None = None

    async def recv(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        block = self.sample_rate // 50
        due = self._start + self._samples / self.sample_rate
        await asyncio.sleep(max(0.0, due - loop.time()))
        t = (self._samples + np.arange(block)) / self.sample_rate
        mono = (0.3 * np.sin(2 * np.pi * self.frequency * t)).astype(np.float32)
        data = np.repeat(mono, self.channels).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(data, format="flt", layout="stereo" if self.channels == 2 else "mono")
        frame.sample_rate = self.sample_rate
        frame.pts = self._samples * 1_000_000 // self.sample_rate
        frame.time_base = MICROSECONDS
        self._samples += block
        return frame
