"""Make the sample media files hang's demo and tests publish, reproducibly, with PyAV.

    python samples/make_samples.py [--out samples]

Each file is a few seconds of the hang test pattern (moving bars, a clock, the frame number) and a
tone, encoded single-threaded so the bytes are the same on every run:

- ``h264-aac.mp4``: H.264 (Constrained Baseline, no B-frames) + AAC, the common web file
- ``h264-bframes-opus.mkv``: H.264 High with B-frames + Opus
- ``vp9-opus.webm``: VP9 + Opus
- ``mpeg4-mp3.avi``: MPEG-4 Part 2 + MP3, which hang transcodes to H.264 + Opus
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from hang.media.capture import TestPatternVideo

SECONDS = 4
FPS = 30
WIDTH, HEIGHT = 640, 360
RATE = 48000

SAMPLES: dict[str, tuple[str, dict[str, str], str]] = {
    "h264-aac.mp4": ("libx264", {"profile": "baseline", "bf": "0", "g": "30", "threads": "1"}, "aac"),
    "h264-bframes-opus.mkv": ("libx264", {"profile": "high", "bf": "2", "g": "30", "threads": "1"}, "libopus"),
    "vp9-opus.webm": ("libvpx-vp9", {"g": "30", "threads": "1", "deadline": "good", "cpu-used": "4"}, "libopus"),
    "mpeg4-mp3.avi": ("mpeg4", {"g": "30", "threads": "1"}, "libmp3lame"),
}


def make(path: Path, video_codec: str, options: dict[str, str], audio_codec: str) -> None:
    """Write one sample file."""
    pattern = TestPatternVideo(WIDTH, HEIGHT, FPS)
    with av.open(str(path), "w", options={"fflags": "+bitexact"}) as output:
        video: Any = output.add_stream(video_codec, rate=FPS, options=options)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.bit_rate = 1_000_000
        audio: Any = output.add_stream(audio_codec, rate=RATE)
        audio.layout = "stereo"
        audio.bit_rate = 128_000
        audio_frames = []
        size = 1152 if audio_codec == "libmp3lame" else 1024 if audio_codec == "aac" else 960
        t = np.arange(SECONDS * RATE) / RATE
        tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        fmt = audio.codec_context.codec.audio_formats[0].name
        for start in range(0, len(tone) - size + 1, size):
            chunk = np.tile(tone[start : start + size], (2, 1))
            frame = av.AudioFrame.from_ndarray(chunk if fmt.endswith("p") else chunk.T.reshape(1, -1).copy(),
                                               format="fltp" if fmt.endswith("p") else "flt", layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = RATE, start, Fraction(1, RATE)
            audio_frames.append(frame)
        resampler = av.AudioResampler(format=fmt, layout="stereo", rate=RATE)
        for index in range(SECONDS * FPS):
            frame = av.VideoFrame.from_ndarray(pattern.picture(index), format="rgb24").reformat(format="yuv420p")
            frame.pts = index
            output.mux(video.encode(frame))
            for a in audio_frames[index * len(audio_frames) // (SECONDS * FPS):
                                  (index + 1) * len(audio_frames) // (SECONDS * FPS)]:
                for chunk in resampler.resample(a):
                    output.mux(audio.encode(chunk))
        output.mux(video.encode(None))
        output.mux(audio.encode(None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (video_codec, options, audio_codec) in SAMPLES.items():
        target = args.out / name
        if not target.exists():
            make(target, video_codec, options, audio_codec)
        print(f"{target} ({target.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
