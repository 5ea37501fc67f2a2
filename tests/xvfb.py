"""A virtual X display for window tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def virtual_display(width: int = 1280, height: int = 800) -> Iterator[str]:
    """Start Xvfb on a free display number; yields the DISPLAY value."""
    if shutil.which("Xvfb") is None:
        raise RuntimeError("Xvfb is not installed (run .ci/setup)")
    for number in range(90, 140):
        if not os.path.exists(f"/tmp/.X11-unix/X{number}") and not os.path.exists(f"/tmp/.X{number}-lock"):
            break
    process = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            if os.path.exists(f"/tmp/.X11-unix/X{number}"):
                break
            time.sleep(0.1)
        yield f":{number}"
    finally:
        process.terminate()
        process.wait()
