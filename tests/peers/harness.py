"""Run ``moq_rs_peer.py`` (the official Rust stack via PyPI moq-rs) as a subprocess and read its events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("moq_rs_peer.py")


class Peer:
    """One running peer process; its stdout is a stream of JSON events."""

    def __init__(self, process: asyncio.subprocess.Process, name: str) -> None:
        self.process = process
        self.name = name
        self.events: list[dict[str, Any]] = []
        self.stderr = b""

    async def next_event(self, timeout: float = 20) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not line:
            raise AssertionError(f"{self.name} exited ({await self.exit_code()}) without an event:\n"
                                 f"{await self.read_stderr()}")
        event: dict[str, Any] = json.loads(line)
        self.events.append(event)
        return event

    async def expect(self, name: str, timeout: float = 20) -> dict[str, Any]:
        """Read events until one called ``name`` arrives (fails on an ``error`` event)."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.next_event(timeout)
                if event["event"] == name:
                    return event
                if event["event"] in ("error", "timeout"):
                    raise AssertionError(f"{self.name}: {event}\n{await self.read_stderr()}")

    def send_line(self, text: str = "go") -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode() + b"\n")

    async def exit_code(self, timeout: float = 20) -> int:
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def read_stderr(self) -> str:
        if self.process.stderr is not None and self.process.returncode is not None:
            self.stderr += await self.process.stderr.read()
        return self.stderr.decode(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()


@contextlib.asynccontextmanager
async def peer(*args: str) -> AsyncIterator[Peer]:
    """Start ``moq_rs_peer.py ARGS`` and stop it on exit."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    running = Peer(process, f"moq-rs {args[0]}")
    try:
        yield running
    finally:
        running.stop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 5)
        if process.returncode is None:
            process.kill()
            await process.wait()
