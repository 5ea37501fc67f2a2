"""A private PulseAudio server with a null sink, so audio capture and playback are tested for real.

Audio played into the sink ``hangtest`` is what the default source ``hangmic`` captures, and what an
application plays on the default output lands in the sink, where ``parec`` records it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np


@contextmanager
def pulse_server() -> Iterator[dict[str, str]]:
    """Start the server; yields the environment a client needs to reach it."""
    if shutil.which("pulseaudio") is None:
        raise RuntimeError("pulseaudio is not installed (run .ci/setup)")
    runtime = Path(tempfile.mkdtemp(prefix="hang-pulse-"))
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), PULSE_RUNTIME_PATH=str(runtime / "pulse"),
               PULSE_STATE_PATH=str(runtime / "state"), PULSE_SERVER=f"unix:{runtime / 'pulse' / 'native'}")
    for sub in ("pulse", "state"):
        (runtime / sub).mkdir(mode=0o700)
    subprocess.run(["pulseaudio", "--daemonize=yes", "-n", "--exit-idle-time=-1", "--disallow-exit",
                    "--realtime=no", "--high-priority=no", f"--log-target=file:{runtime / 'pulse.log'}",
                    "--load=module-native-protocol-unix",
                    "--load=module-null-sink sink_name=hangtest rate=48000 channels=2",
                    "--load=module-remap-source source_name=hangmic master=hangtest.monitor channels=2"],
                   env=env, check=True, timeout=20)
    keepalive = None
    try:
        for _ in range(100):
            if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        subprocess.run(["pactl", "set-default-sink", "hangtest"], env=env, check=True)
        subprocess.run(["pactl", "set-default-source", "hangmic"], env=env, check=True)
        # An idle null sink ticks every 2 s; a low-latency reader keeps it ticking every 10 ms.
        keepalive = subprocess.Popen(["parec", "--raw", "--device=hangtest.monitor", "--latency-msec=10"],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2.2)
        yield env
    finally:
        if keepalive is not None:
            keepalive.kill()
            keepalive.wait()
        subprocess.run(["pulseaudio", "-k"], env=env, capture_output=True)
        shutil.rmtree(runtime, ignore_errors=True)


def write_tone(path: Path, frequency: float, seconds: float, rate: int = 48000) -> Path:
    """A 16-bit stereo WAV of a sine tone."""
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.5 * 32767 * np.sin(2 * np.pi * frequency * t)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.repeat(samples, 2).tobytes())
    return path


@contextmanager
def record(env: dict[str, str], path: Path) -> Iterator[None]:
    """Record what is played to the sink (float32 stereo, 48 kHz) into ``path`` while inside the block."""
    with path.open("wb") as output:
        process = subprocess.Popen(["parec", "--raw", "--device=hangtest.monitor", "--rate=48000", "--channels=2",
                                    "--format=float32le", "--latency-msec=20"], env=env, stdout=output,
                                   stderr=subprocess.DEVNULL)
        try:
            yield
        finally:
            process.terminate()
            process.wait()
