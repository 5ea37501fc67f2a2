"""Helpers the benchmarks share: relay subprocesses, progress lines, CPU time, percentiles, run metadata."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from hang.wire.constants import Version

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
MOQ_RS_PEER = ROOT / "tests" / "peers" / "moq_rs_peer.py"
RELAY_START_TIMEOUT = 20.0
RELAY_STOP_TIMEOUT = 5.0


def progress(message: str) -> None:
    """A timestamped progress line on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def cpu_seconds(pid: int | str = "self") -> float:
    """utime + stime of a process (all its threads) from /proc/<pid>/stat, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    fields = data[data.rindex(")") + 2:].split()  # fields from #3 (state) on
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mib(pid: int | str) -> float | None:
    """Resident set size of a process in MiB, from VmRSS in /proc/<pid>/status (None if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def die_with_parent() -> None:
    """In the child before exec: get SIGTERM if the benchmark dies, so no process is left behind."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in percent) of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def git_describe() -> str | None:
    """The checkout the benchmark ran from (``git describe --always --dirty``), if known."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def versions_of(*packages: str) -> dict[str, str | None]:
    """Installed versions of packages (None where missing)."""
    out: dict[str, str | None] = {}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


class RelayProcess:
    """One relay in its own subprocess: ``hang relay`` or ``moq_rs_peer.py relay`` (moq.Server)."""

    def __init__(self, kind: str, logpath: Path, version: Version | None = None) -> None:
        self.kind = kind
        self.version = version
        self.logpath = logpath
        self.proc: asyncio.subprocess.Process | None = None
        self.addr = ""
        self.fingerprint = ""
        self._drain: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def argv(self) -> list[str]:
        if self.kind == "hang":
            pin = ["--versions", f"{self.version.value & 0xFF:02d}"] if self.version is not None else []
            return [sys.executable, "-m", "hang", "relay", "--listen", "127.0.0.1:0", *pin]
        if self.kind == "moq-rs":
            return [sys.executable, str(MOQ_RS_PEER), "relay", "--bind", "127.0.0.1:0"]
        raise ValueError(f"unknown relay {self.kind!r}")

    async def start(self) -> None:
        with open(self.logpath, "wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv(), cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=log, preexec_fn=die_with_parent,
            )
        try:
            async with asyncio.timeout(RELAY_START_TIMEOUT):
                await self._wait_ready()
        except TimeoutError:
            raise RuntimeError(f"{self.kind} relay not ready after {RELAY_START_TIMEOUT:.0f}s\n"
                               f"{self.log_tail()}") from None
        self._drain = asyncio.ensure_future(self._drain_stdout())

    async def _wait_ready(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while True:
            line = (await self.proc.stdout.readline()).decode(errors="replace")
            if not line:
                code = await self.proc.wait()
                raise RuntimeError(f"{self.kind} relay exited ({code}) before it was ready\n{self.log_tail()}")
            if self.kind == "hang":
                match = re.search(r"relay ready: https://[^/]*:(\d+)/ \(pin ([0-9a-f]{64})\)", line)
                if match:
                    self.addr, self.fingerprint = f"127.0.0.1:{match[1]}", match[2]
                    return
            else:
                with contextlib.suppress(ValueError):
                    event = json.loads(line)
                    if event.get("event") == "ready":
                        self.addr, self.fingerprint = event["addr"], event["fingerprints"][0]
                        return

    async def _drain_stdout(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while await self.proc.stdout.readline():
            pass

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.logpath.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def log_size(self) -> int:
        try:
            return self.logpath.stat().st_size
        except OSError:
            return 0

    def log_lines(self, start: int, end: int, pattern: re.Pattern[str]) -> list[str]:
        """The lines matching ``pattern`` that the relay logged between two byte offsets of its log."""
        try:
            with open(self.logpath, "rb") as f:
                f.seek(start)
                text = f.read(max(0, end - start)).decode(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if pattern.search(line)]

    def cpu_seconds(self) -> float:
        """The relay's CPU time so far; RuntimeError if it has exited."""
        try:
            return cpu_seconds(self.pid)
        except OSError:
            raise RuntimeError(f"{self.kind} relay (pid {self.pid}) has exited") from None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.returncode

    async def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after a grace period; returns the exit code."""
        proc = self.proc
        if proc is None:
            return None
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), RELAY_STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if proc.stdin is not None:
            proc.stdin.close()
        if self._drain is not None:
            self._drain.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._drain
        return proc.returncode
