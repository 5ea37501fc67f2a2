"""The command line as a user runs it: ``hang relay`` in its own process, the http:// shortcut, errors."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import sys
import urllib.request
from collections.abc import AsyncIterator

import pytest

import hang


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        port: int = udp.getsockname()[1]
        return port


def http_get(port: int, path: str) -> tuple[int, str, dict[str, str]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


@pytest.fixture
async def relay_process() -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hang", "relay", "--listen", f"127.0.0.1:{port}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 15)
    assert b"relay ready" in line, line
    try:
        yield process, port
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_relay_process_http_side_and_clean_shutdown(
        relay_process: tuple[asyncio.subprocess.Process, int]) -> None:
    process, port = relay_process
    status, fingerprint, headers = await asyncio.to_thread(http_get, port, "/certificate.sha256")
    assert status == 200 and re.fullmatch(r"[0-9a-f]{64}", fingerprint), fingerprint
    assert headers.get("Access-Control-Allow-Origin") == "*"

    # The http:// URL fetches that fingerprint and pins it.
    async with hang.connect(f"http://127.0.0.1:{port}/") as session:
        assert session.version == hang.Version.LITE_05
        broadcast = hang.BroadcastProducer()
        broadcast.create_track("chat")
        session.publish("room/alice", broadcast.consume())
        async with asyncio.timeout(5):
            while True:
                status, body, _ = await asyncio.to_thread(http_get, port, "/announced/room")
                if body == "room/alice\n":
                    break
                await asyncio.sleep(0.05)
        status, body, _ = await asyncio.to_thread(http_get, port, "/health")
        assert status == 200 and json.loads(body)["sessions"] == 1
        status, body, _ = await asyncio.to_thread(http_get, port, "/announced/other")
        assert status == 200 and body == ""
    status, _, _ = await asyncio.to_thread(http_get, port, "/nope")
    assert status == 404

    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 10) == 0
    assert process.stderr is not None
    log = (await process.stderr.read()).decode()
    assert re.search(r"session open 127\.0\.0\.1:\d+ webtransport lite-05", log), log
    assert re.search(r"session closed 127\.0\.0\.1:\d+ lite-05 code=0", log), log
    assert "relay stopped" in log
    assert "Traceback" not in log


async def test_announced_command_lists_broadcasts(relay_process: tuple[asyncio.subprocess.Process, int]) -> None:
    _, port = relay_process
    async with hang.connect(f"http://127.0.0.1:{port}/") as session:
        broadcast = hang.BroadcastProducer()
        session.publish("room/bob", broadcast.consume())
        await asyncio.sleep(0.2)
        lister = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hang", "announced", f"http://127.0.0.1:{port}/", "--prefix", "room",
            "--timeout", "1.5", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(lister.communicate(), 15)
    assert lister.returncode == 0, err
    assert out.decode().splitlines() == ["+ room/bob"]


async def test_unreachable_relay_is_one_readable_line() -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hang", "announced", f"http://127.0.0.1:{port}/", "--timeout", "1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 1
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hang announced: error: could not fetch"), lines


async def test_port_in_use_is_one_readable_line(relay_process: tuple[asyncio.subprocess.Process, int]) -> None:
    _, port = relay_process
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hang", "relay", "--listen", f"127.0.0.1:{port}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 1
    assert "Traceback" not in err.decode()
    assert "hang relay: error:" in err.decode()
