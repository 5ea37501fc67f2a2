"""Audio out: each participant's decoded audio in a jitter buffer, mixed and played through sounddevice."""

from __future__ import annotations

import collections
import logging
import threading
from typing import Any

import numpy as np

from hang.errors import MediaError

log = logging.getLogger("hang.watch")

RATE = 48000
CHANNELS = 2


class JitterBuffer:
    """Interleaved float32 samples of one participant, kept near ``target_ms`` of delay, bounded."""

    def __init__(self, target_ms: int = 100, max_ms: int = 500) -> None:
        self.target = RATE * target_ms // 1000
        self.max = RATE * max_ms // 1000
        self.chunks: collections.deque[np.ndarray] = collections.deque()
        self.size = 0
        self.primed = False
        self.underruns = 0

    def push(self, samples: np.ndarray) -> None:
        self.chunks.append(samples)
        self.size += len(samples)
        while self.size > self.max and self.chunks:  # too far behind: drop the oldest audio
            self.size -= len(self.chunks.popleft())
        if self.size >= self.target:
            self.primed = True

    def pull(self, frames: int) -> np.ndarray:
        out = np.zeros((frames, CHANNELS), np.float32)
        if not self.primed:
            return out
        filled = 0
        while filled < frames and self.chunks:
            chunk = self.chunks[0]
            take = min(frames - filled, len(chunk))
            out[filled : filled + take] = chunk[:take]
            filled += take
            self.size -= take
            if take == len(chunk):
                self.chunks.popleft()
            else:
                self.chunks[0] = chunk[take:]
        if filled < frames:
            self.underruns += 1
            self.primed = False  # silence, then wait for the target delay again
        return out


class AudioMixer:
    """Mixes every participant's jitter buffer into one sounddevice output stream."""

    def __init__(self, device: str | int | None = None, target_ms: int = 100) -> None:
        self.buffers: dict[str, JitterBuffer] = {}
        self.target_ms = target_ms
        self.lock = threading.Lock()
        self._resamplers: dict[str, Any] = {}
        try:
            import sounddevice
        except OSError as exc:
            raise MediaError(f"audio output needs PortAudio (libportaudio2): {exc}") from None
        try:
            self.stream = sounddevice.OutputStream(device=device, samplerate=RATE, channels=CHANNELS,
                                                   dtype="float32", blocksize=RATE // 100, callback=self._callback)
            self.stream.start()
        except (sounddevice.PortAudioError, ValueError) as exc:
            raise MediaError(f"cannot open the audio output: {str(exc).splitlines()[0]}") from None

    def add(self, name: str, frame: Any) -> None:
        """Queue a decoded ``av.AudioFrame`` of participant ``name`` (resampled to 48 kHz stereo)."""
        import av

        resampler = self._resamplers.get(name)
        if resampler is None:
            resampler = self._resamplers[name] = av.AudioResampler(format="flt", layout="stereo", rate=RATE)
        for chunk in resampler.resample(frame):
            samples = chunk.to_ndarray().reshape(-1, CHANNELS)
            with self.lock:
                buffer = self.buffers.get(name)
                if buffer is None:
                    buffer = self.buffers[name] = JitterBuffer(self.target_ms)
                buffer.push(samples)

    def remove(self, name: str) -> None:
        """Forget a participant that left."""
        with self.lock:
            self.buffers.pop(name, None)
        self._resamplers.pop(name, None)

    def _callback(self, out: np.ndarray, frames: int, timing: Any, status: Any) -> None:
        with self.lock:
            mix = np.zeros((frames, CHANNELS), np.float32)
            for buffer in self.buffers.values():
                mix += buffer.pull(frames)
        np.clip(mix, -1.0, 1.0, out=out)

    def close(self) -> None:
        """Stop playing."""
        self.stream.stop()
        self.stream.close()
