"""Processes dying: a publisher killed with SIGKILL, a relay killed with SIGKILL and restarted.

The bounds here are functional (what a viewer must see), not performance measurements: the relay
notices a silent peer after its 1 s idle timeout (PINGs keep live peers up), so a viewer learns
that a killed publisher's broadcast is gone within about a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import hang
from hang.relay import Relay
from hang.transport import tls
from tests.conftest import client_config, url
from tests.test_loopback import next_active
from tests.test_publish import watch

NUMBERED = Path(__file__).parent / "peers" / "numbered.py"
#: What "within a second" allows for on a loaded machine: the 1 s idle timeout plus scheduling.
GONE_WITHIN = 1.5


async def spawn(*argv: str, stdout: int | None = asyncio.subprocess.PIPE) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(*argv, stdout=stdout, stderr=asyncio.subprocess.PIPE)


async def next_event(process: asyncio.subprocess.Process, name: str, timeout: float = 20) -> dict[str, Any]:
    assert process.stdout is not None
    async with asyncio.timeout(timeout):
        while line := await process.stdout.readline():
            event: dict[str, Any] = json.loads(line)
            if event["event"] == name:
                return event
    raise AssertionError(f"process ended before {name!r}: {(await process.stderr.read()).decode()[-2000:]}")  # type: ignore[union-attr]


@contextlib.asynccontextmanager
async def processes() -> AsyncIterator[list[asyncio.subprocess.Process]]:
    started: list[asyncio.subprocess.Process] = []
    try:
        yield started
    finally:
        for process in started:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def test_killed_publisher_ends_the_track_and_unannounces_within_a_second(relay: Relay) -> None:
    async with processes() as started:
        publisher = await spawn(sys.executable, str(NUMBERED), "publish", url(relay), "--fingerprint",
                                relay.fingerprint, "--name", "room/doomed")
        started.append(publisher)
        await next_event(publisher, "ready")
        async with hang.connect(url(relay), client_config(relay)) as viewer:
            announcements = viewer.announced("room")
            await next_active(announcements, "room/doomed", timeout=10)
            track = await viewer.subscribe("room/doomed", "numbers")
            group = await asyncio.wait_for(track.next_group(), 10)
            assert group is not None and await group.read_frame() is not None

            async def track_end() -> float:
                with contextlib.suppress(hang.HangError):
                    while await track.next_group() is not None:
                        pass
                return time.monotonic()

            async def unannounced() -> float:
                await next_active(announcements, "room/doomed", active=False, timeout=10)
                return time.monotonic()

            ended, gone = asyncio.ensure_future(track_end()), asyncio.ensure_future(unannounced())
            killed = time.monotonic()
            publisher.kill()
            ended_at, gone_at = await asyncio.wait_for(asyncio.gather(ended, gone), 10)
    assert ended_at - killed < GONE_WITHIN, f"track ended {ended_at - killed:.2f} s after the SIGKILL"
    assert gone_at - killed < GONE_WITHIN, f"unannounced {gone_at - killed:.2f} s after the SIGKILL"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def start_relay(port: int, cert: tls.Certificate) -> asyncio.subprocess.Process:
    process = await spawn(sys.executable, "-m", "hang", "relay", "--listen", f"127.0.0.1:{port}", "--no-http",
                          "--tls-cert", str(cert.certfile), "--tls-key", str(cert.keyfile))
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 20)
    assert b"relay ready" in line, (await process.stderr.read()).decode()  # type: ignore[union-attr]
    return process


async def test_clients_come_back_after_the_relay_is_killed_and_restarted(tmp_path: Path) -> None:
    """SIGKILL (no GOAWAY, no close): ``hang publish``, ``hang watch`` and a subscriber reconnect by themselves."""
    cert = tls.generate(tmp_path)
    port = free_port()
    base = f"https://127.0.0.1:{port}/"
    config = hang.ClientConfig(fingerprints=[cert.fingerprint], timeout=10)
    async with processes() as started:
        relay = await start_relay(port, cert)
        started.append(relay)
        started.append(await spawn(sys.executable, "-m", "hang", "publish", base, "--tls-fingerprint",
                                   cert.fingerprint, "--name", "room/phoenix.hang", "--test-pattern", "--size",
                                   "320x240", "--no-progress", stdout=asyncio.subprocess.DEVNULL))
        watcher = await spawn(sys.executable, "-m", "hang", "watch", base, "--tls-fingerprint", cert.fingerprint,
                              "--name", "room/phoenix.hang", "--headless", "--no-audio", "--duration", "16")
        started.append(watcher)
        started.append(await spawn(sys.executable, str(NUMBERED), "publish", base, "--fingerprint",
                                   cert.fingerprint, "--name", "room/numbers", "--reconnect",
                                   stdout=asyncio.subprocess.DEVNULL))
        subscriber = await spawn(sys.executable, str(NUMBERED), "subscribe", base, "--fingerprint",
                                 cert.fingerprint, "--name", "room/numbers", "--reconnect", "--seconds", "18")
        started.append(subscriber)
        async with hang.connect(base, config) as session:
            await watch(session, "room/phoenix.hang", 10)
        await asyncio.sleep(2)

        relay.kill()
        await relay.wait()
        killed = time.monotonic()
        started.append(await start_relay(port, cert))

        async with hang.connect(base, config) as session:
            _, decoded, units = await watch(session, "room/phoenix.hang", 10, timeout=20)
        assert units["video"][0].keyframe  # the publisher resumed with a fresh group
        out, err = await asyncio.wait_for(watcher.communicate(), 30)
        events = [json.loads(line) for line in (await asyncio.wait_for(subscriber.communicate(), 30))[0].splitlines()]
    lines = out.decode().splitlines()
    assert watcher.returncode == 0, err
    assert lines.count("+ room/phoenix.hang") == 2, lines
    stats = [line for line in lines if line.startswith("room/phoenix.hang:")]
    assert " fps" in stats[-1] and "error" not in stats[-1], stats[-3:]
    # Our subscriber reconnected by itself and received whole, intact frames again.
    kinds = [e["event"] for e in events]
    assert kinds.count("subscribed") >= 2 and "bad" not in kinds, kinds[-20:]
    assert any(e["event"] == "frame" and e["t"] < killed for e in events)
    assert sum(e["event"] == "frame" and e["t"] > killed for e in events) >= 30
