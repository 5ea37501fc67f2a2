"""Real media for the tests, made with PyAV: synthetic pictures and tones, encoders, quality measures."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import av
import numpy as np

from hang.media.packager import EncodedPacket

WIDTH, HEIGHT, FPS = 320, 240, 30
RATE = 48000


def picture(index: int) -> np.ndarray:
    """A gradient that moves, with a bright block whose position encodes the frame number."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    image[..., 0] = (x + index * 4) % 256
    image[..., 1] = (y * 2 + index * 2) % 256
    image[..., 2] = 128
    bx, by = (index * 13) % (WIDTH - 40), (index * 7) % (HEIGHT - 40)
    image[by : by + 40, bx : bx + 40] = 255
    return image


def encode_video(encoder: str, count: int, gop: int = 15, **options: str) -> tuple[Any, list[EncodedPacket]]:
    context: Any = av.CodecContext.create(encoder, "w")
    context.width, context.height, context.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    context.time_base = Fraction(1, FPS)
    context.framerate = FPS
    context.gop_size = gop
    context.bit_rate = 1_000_000
    context.options = options
    packets: list[EncodedPacket] = []
    for index in range(count):
        frame = av.VideoFrame.from_ndarray(picture(index), format="rgb24").reformat(format="yuv420p")
        frame.pts = index
        packets += [EncodedPacket.from_av(p) for p in context.encode(frame)]
    packets += [EncodedPacket.from_av(p) for p in context.encode(None)]
    return context, packets


def tone(seconds: float, frequency: float = 440.0, channels: int = 2) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    mono = (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
    return np.tile(mono, (channels, 1))


def encode_audio(encoder: str, samples: np.ndarray) -> tuple[Any, list[EncodedPacket]]:
    context: Any = av.CodecContext.create(encoder, "w")
    context.sample_rate = RATE
    context.layout = "stereo"
    context.format = "fltp" if encoder == "aac" else "flt"
    context.bit_rate = 128000
    context.time_base = Fraction(1, RATE)
    context.open()
    size = context.frame_size or 960
    packets: list[EncodedPacket] = []
    for start in range(0, samples.shape[1] - size + 1, size):
        chunk = samples[:, start : start + size]
        if context.format.name == "flt":
            frame = av.AudioFrame.from_ndarray(chunk.T.reshape(1, -1).copy(), format="flt", layout="stereo")
        else:
            frame = av.AudioFrame.from_ndarray(chunk.copy(), format="fltp", layout="stereo")
        frame.sample_rate = RATE
        frame.pts = start
        frame.time_base = Fraction(1, RATE)
        packets += [EncodedPacket.from_av(p) for p in context.encode(frame)]
    packets += [EncodedPacket.from_av(p) for p in context.encode(None)]
    return context, packets


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def dominant_frequency(samples: np.ndarray, rate: int = RATE) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Peak normalized cross-correlation of two signals (any lag up to 50 ms)."""
    n = min(len(a), len(b))
    a, b = a[:n] - a[:n].mean(), b[:n] - b[:n].mean()
    best = 0.0
    for lag in range(0, 2400, 8):
        x, y = a[lag:], b[: n - lag]
        denom = float(np.sqrt(np.dot(x, x) * np.dot(y, y))) or 1.0
        best = max(best, float(np.dot(x, y)) / denom)
    return best
