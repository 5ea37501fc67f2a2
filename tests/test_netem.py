"""Loss and delay: publisher, relay and viewer in three network namespaces joined by veth pairs, each
link shaped with ``tc qdisc ... netem loss 5% delay 100ms`` in both directions.

Kernels built without ``sch_netem`` (some VM kernels have no modules) get the same impairment from
a userspace UDP proxy (``tests/impair.py``: 5 % loss, 100 ms delay, each direction) that runs in
the relay's namespace in front of each link; the topology and the processes are the same.

The publisher is ``tests/peers/numbered.py publish``, the relay ``hang relay`` (default settings,
its 1 s idle timeout included: QUIC stretches it to 3 PTO on a slow path, and PINGs every eighth of
it keep the sessions up), the viewer ``tests/peers/numbered.py subscribe``, which checks every frame
it gets. For ~15 s the viewer must keep playing (frames in every 2 s window), may skip whole groups
when it must, and never receives a partial or corrupt frame.

Needs root (namespaces, veth, netem); skipped with the reason otherwise.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hang.transport import tls

ROOT = Path(__file__).resolve().parent.parent
NUMBERED = ROOT / "tests" / "peers" / "numbered.py"
IMPAIR = ROOT / "tests" / "impair.py"
NETEM = ["netem", "loss", "5%", "delay", "100ms"]
SECONDS = 15.0
WINDOW = 2.0
#: 30 fps x 400 B = 96 kbit/s: within what QUIC congestion control sustains at 5 % loss and 200 ms RTT.
FRAME_SIZE = 400


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


@dataclass
class Net:
    """Three namespaces: the relay's is linked to the publisher's (10.77.1.0/24) and the viewer's (10.77.2.0/24)."""

    pub: str
    relay: str
    view: str
    #: False when the kernel has no netem qdisc: the impairment then comes from tests/impair.py.
    netem: bool = True

    def exec(self, namespace: str) -> list[str]:
        return ["ip", "netns", "exec", namespace]


def _cannot_build() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None or shutil.which("tc") is None:
        return "iproute2 (ip, tc) is not installed"
    return None


@pytest.fixture
def net() -> Iterator[Net]:
    reason = _cannot_build()
    if reason:
        pytest.skip(reason)
    tag = f"{os.getpid() % 100000}"
    names = Net(f"hang-pub-{tag}", f"hang-relay-{tag}", f"hang-view-{tag}")
    created: list[str] = []
    try:
        for namespace in (names.pub, names.relay, names.view):
            try:
                ip("netns", "add", namespace)
            except subprocess.CalledProcessError as exc:
                pytest.skip(f"cannot create network namespaces: {exc.stderr.decode().strip()}")
            created.append(namespace)
            ip("-n", namespace, "link", "set", "lo", "up")
        for side, namespace, subnet in (("p", names.pub, 1), ("v", names.view, 2)):
            outer, inner = f"h{side}r{tag}", f"h{side}x{tag}"
            ip("link", "add", outer, "netns", names.relay, "type", "veth", "peer", "name", inner, "netns", namespace)
            for where, dev, host in ((names.relay, outer, 1), (namespace, inner, 2)):
                ip("-n", where, "addr", "add", f"10.77.{subnet}.{host}/24", "dev", dev)
                ip("-n", where, "link", "set", dev, "up")
                if names.netem:
                    names.netem = _add_netem(names, where, dev)
        yield names
    finally:
        for namespace in created:
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=20)


def _add_netem(net: Net, namespace: str, dev: str) -> bool:
    """Shape ``dev``; False if this kernel has no netem (then nothing is shaped)."""
    done = subprocess.run([*net.exec(namespace), "tc", "qdisc", "add", "dev", dev, "root", *NETEM],
                          capture_output=True, timeout=20)
    if done.returncode and b"qdisc kind is unknown" in done.stderr:
        return False
    done.check_returncode()
    return True


async def run_in(net: Net, namespace: str, *argv: str) -> asyncio.subprocess.Process:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return await asyncio.create_subprocess_exec(*net.exec(namespace), *argv, cwd=ROOT, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


def summarize(events: list[dict[str, Any]]) -> dict[str, Any]:
    frames = [e for e in events if e["event"] == "frame"]
    groups = [e for e in events if e["event"] == "group"]
    sequences = sorted({e["group"] for e in frames})
    skipped = sum(b - a - 1 for a, b in zip(sequences, sequences[1:], strict=False) if b > a + 1)
    start, end = frames[0]["t"], frames[-1]["t"]
    windows = [0] * max(1, int((end - start) // WINDOW) + 1)
    for frame in frames:
        windows[int((frame["t"] - start) // WINDOW)] += 1
    return {
        "frames": len(frames),
        "groups_complete": sum(g["how"] == "fin" for g in groups),
        "groups_cut": sum(g["how"] != "fin" for g in groups),
        "groups_skipped": skipped,
        "frames_per_window": windows,
        "bad": [e for e in events if e["event"] == "bad"],
        "playing_s": end - start,
    }


async def test_viewer_keeps_playing_through_loss_and_delay(net: Net, tmp_path: Path) -> None:
    cert = tls.generate(tmp_path)
    processes: list[asyncio.subprocess.Process] = []
    try:
        relay = await run_in(net, net.relay, sys.executable, "-m", "hang", "relay", "--listen", "0.0.0.0:4443",
                             "--no-http", "--tls-cert", str(cert.certfile), "--tls-key", str(cert.keyfile))
        processes.append(relay)
        assert relay.stdout is not None
        line = await asyncio.wait_for(relay.stdout.readline(), 30)
        assert b"relay ready" in line
        port = 4443
        if not net.netem:
            port = 4444
            for subnet in (1, 2):
                proxy = await run_in(net, net.relay, sys.executable, str(IMPAIR), "--listen",
                                     f"10.77.{subnet}.1:{port}", "--target", "127.0.0.1:4443", "--loss", "0.05",
                                     "--delay", "0.1")
                processes.append(proxy)
                assert proxy.stdout is not None
                assert b"proxy ready" in await asyncio.wait_for(proxy.stdout.readline(), 30)
        common = ["--fingerprint", cert.fingerprint, "--name", "room/lossy"]
        publisher = await run_in(net, net.pub, sys.executable, str(NUMBERED), "publish",
                                 f"https://10.77.1.1:{port}/", *common, "--fps", "30", "--group-frames", "15",
                                 "--frame-size", str(FRAME_SIZE))
        processes.append(publisher)
        viewer = await run_in(net, net.view, sys.executable, str(NUMBERED), "subscribe",
                              f"https://10.77.2.1:{port}/", *common, "--seconds", str(SECONDS + 6))
        processes.append(viewer)
        out, err = await asyncio.wait_for(viewer.communicate(), SECONDS + 40)
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
    events = [json.loads(line) for line in out.decode().splitlines()]
    assert any(e["event"] == "frame" for e in events), err.decode()[-3000:]
    summary = summarize(events)
    how = "tc netem" if net.netem else "tests/impair.py (no netem in this kernel)"
    print(f"loss 5% delay 100ms per link and direction via {how}: {summary}")
    assert not summary["bad"], "the viewer got a partial or corrupt frame"
    assert summary["playing_s"] >= SECONDS, summary
    assert all(count > 0 for count in summary["frames_per_window"]), f"the viewer stalled: {summary}"
    assert summary["frames"] >= 0.5 * 30 * summary["playing_s"], summary
    assert "reconnecting" not in [e["event"] for e in events], "the viewer lost its session"
