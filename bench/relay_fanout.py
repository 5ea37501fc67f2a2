#!/usr/bin/env python3
"""Relay fan-out benchmark: ``hang relay`` against the official Rust relay (``moq.Server``), side by side.

For every relay and every subscriber count N, the relay runs as its own subprocess on loopback and
this process is the load generator: one publisher session writes a track (``bench/pub`` / ``video``)
at a fixed bitrate and frame rate, and N subscriber sessions (N separate QUIC connections) read it.
Every payload starts with the send time (``time.perf_counter_ns()``) and a sequence number, so
per-frame latency is ``receive time - send time``. By default the subscribers run in this process
next to the publisher; ``--loadgen-procs K`` spreads them over K worker processes instead (the
clock is CLOCK_MONOTONIC, shared by every process on the host), for when one Python process
cannot read N streams fast enough. The load generator is the same for both relays.

The measuring window opens once every subscriber has received its first frame and lasts
``--duration`` seconds. Frames *sent* during the window count; a frame is delivered to a
subscriber if it arrives before the window end plus ``--drain`` seconds. Reported per run:

- delivered: delivered (frame, subscriber) pairs / (frames sent in the window x N)
- egress Mbit/s: payload bytes received by all subscribers during the window / window length
- latency p50 / p99 of the delivered frames (ms)
- relay CPU: utime + stime of the relay process (all its threads) over the window, from /proc

Usage::

    python bench/relay_fanout.py [--subscribers 1,10,40] [--bitrate-mbps 2] [--frame-rate 30]
        [--group-frames 30] [--duration 10] [--relays hang,moq-rs] [--json bench/results/relay_fanout.json]
        [--version 05] [--scheme https|moql] [--loadgen-procs 1] [--drain 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import platform
import re
import signal
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import (
    RELAY_START_TIMEOUT,
    RELAY_STOP_TIMEOUT,
    RelayProcess,
    cpu_seconds,
    git_describe,
    percentile,
    progress,
    rss_mib,
    versions_of,
)
from common import die_with_parent as _die_with_parent

import hang
from hang.wire.constants import Version, parse_version

ROOT = Path(__file__).resolve().parent.parent
BROADCAST = "bench/pub"
TRACK = "video"
#: Payload header: send time (perf_counter_ns) and sequence number.
HEADER = struct.Struct(">QQ")
CLK_TCK = os.sysconf("SC_CLK_TCK")
RELAYS = ("hang", "moq-rs")
#: Relay log lines worth reporting when they appear during the measuring window.
LOG_ALERT = re.compile(r"(?i)\b(warn|warning|error|traceback|exception|ended|closed)\b")

#: Bounds (seconds) that keep every run finite.
CONNECT_TIMEOUT = 20.0
#: Handshakes in flight at once while the subscribers connect.
CONNECT_CONCURRENCY = 8


# ---------------------------------------------------------------------------------------------------------------
# Relay processes


# ---------------------------------------------------------------------------------------------------------------
# Load generator: one publisher, N subscribers


class Publisher:
    """Writes frames at the frame rate, a new group every ``group_frames`` frames."""

    def __init__(self, track: hang.TrackProducer, frame_size: int, frame_rate: float, group_frames: int) -> None:
        self.track = track
        self.frame_size = frame_size
        self.interval = 1.0 / frame_rate
        self.group_frames = group_frames
        self.sent_ns: list[int] = []  # index = sequence number
        self.reschedules = 0  # times the writer fell a whole frame interval behind and reset its clock
        self._pad = bytes(frame_size - HEADER.size)

    async def run(self) -> None:
        group: hang.GroupProducer | None = None
        start = time.perf_counter()
        seq = 0
        while True:
            if seq % self.group_frames == 0:
                group = self.track.append_group()
            assert group is not None
            now = time.perf_counter_ns()
            group.write_frame(HEADER.pack(now, seq) + self._pad, round(seq * self.interval * 1_000_000))
            self.sent_ns.append(now)
            seq += 1
            delay = start + seq * self.interval - time.perf_counter()
            if delay < -self.interval:  # behind schedule: do not burst to catch up
                self.reschedules += 1
                start = time.perf_counter() - seq * self.interval
                delay = 0.0
            await asyncio.sleep(max(0.0, delay))


@dataclass
class Subscriber:
    index: int
    #: (sequence, send ns, receive ns, payload bytes) for every frame received.
    arrivals: list[tuple[int, int, int, int]] = field(default_factory=list)
    first_frame: asyncio.Event = field(default_factory=asyncio.Event)
    error: str | None = None
    aborted_groups: int = 0
    track_ended: bool = False

    async def run(self, url: str, config: hang.ClientConfig, connect_slots: asyncio.Semaphore) -> None:
        try:
            async with contextlib.AsyncExitStack() as stack:
                async with connect_slots:
                    session = await stack.enter_async_context(hang.connect(url, config))
                await wait_announced(session, BROADCAST)
                consumer = await session.subscribe(BROADCAST, TRACK)
                stack.callback(consumer.close)
                await self._read(consumer)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            progress(f"  subscriber {self.index} failed: {self.error}")

    async def _read(self, consumer: hang.TrackConsumer) -> None:
        # One task per group, like a player that never blocks a newer group behind an older one.
        tasks: set[asyncio.Task[None]] = set()
        try:
            while (group := await consumer.next_group()) is not None:
                task = asyncio.ensure_future(self._read_group(group))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            self.track_ended = True
        finally:
            for task in tasks:
                task.cancel()

    async def _read_group(self, group: hang.GroupConsumer) -> None:
        try:
            while (frame := await group.read_frame()) is not None:
                now = time.perf_counter_ns()
                sent, seq = HEADER.unpack_from(frame.payload)
                self.arrivals.append((seq, sent, now, len(frame.payload)))
                self.first_frame.set()
        except hang.HangError:
            self.aborted_groups += 1


async def wait_announced(session: hang.MoqSession, path: str) -> None:
    announcements = session.announced(path.rpartition("/")[0])
    try:
        async for item in announcements:
            if item.path == path and item.active:
                return
        raise RuntimeError(f"announcement stream ended before {path} appeared")
    finally:
        await announcements.aclose()  # type: ignore[attr-defined]


class LocalPool:
    """The N subscriber sessions in this process (next to the publisher)."""

    def __init__(self, n: int) -> None:
        self.subscribers = [Subscriber(i) for i in range(n)]
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, url: str, config: hang.ClientConfig) -> None:
        slots = asyncio.Semaphore(CONNECT_CONCURRENCY)
        self._tasks = [asyncio.ensure_future(s.run(url, config, slots)) for s in self.subscribers]

    def status(self) -> tuple[int, int]:
        """(subscribers with a frame, subscribers whose task ended without one)."""
        warm = sum(s.first_frame.is_set() for s in self.subscribers)
        failed = sum(t.done() and not s.first_frame.is_set() for s, t in zip(self.subscribers, self._tasks,
                                                                                  strict=True))
        return warm, failed

    def pids(self) -> list[int]:
        return []

    async def stop(self) -> list[Subscriber]:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        return self.subscribers


class ProcessPool:
    """The N subscriber sessions spread over worker processes (``--loadgen-procs``).

    Receive times are ``time.perf_counter_ns()`` in the workers: CLOCK_MONOTONIC on Linux, the same
    clock the publisher stamps frames with in this process.
    """

    def __init__(self, n: int, procs: int) -> None:
        self.n = n
        self.shares = [list(range(w, n, procs)) for w in range(min(procs, n))]
        self._procs: list[Any] = []
        self._conns: list[Any] = []
        self._status: list[tuple[int, int]] = []

    def start(self, url: str, config: hang.ClientConfig) -> None:
        context = multiprocessing.get_context("spawn")
        for indices in self.shares:
            parent, child = context.Pipe()
            params = {"url": url, "fingerprint": config.fingerprints[0], "version": int(config.versions[0]),
                      "timeout": config.timeout, "indices": indices}
            proc = context.Process(target=worker_entry, args=(child, params), daemon=True)
            proc.start()
            child.close()
            self._procs.append(proc)
            self._conns.append(parent)
            self._status.append((0, 0))

    def _poll(self) -> None:
        for i, conn in enumerate(self._conns):
            with contextlib.suppress(EOFError, OSError):
                while conn.poll():
                    message = conn.recv()
                    if message[0] == "status":
                        self._status[i] = message[1]
            if not self._procs[i].is_alive():
                warm, _ = self._status[i]
                self._status[i] = (warm, len(self.shares[i]) - warm)

    def status(self) -> tuple[int, int]:
        self._poll()
        return sum(w for w, _ in self._status), sum(f for _, f in self._status)

    def pids(self) -> list[int]:
        return [p.pid for p in self._procs if p.is_alive()]

    async def stop(self) -> list[Subscriber]:
        subscribers = [Subscriber(i) for i in range(self.n)]
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.send(("stop",))
        for i, conn in enumerate(self._conns):
            try:
                async with asyncio.timeout(RELAY_STOP_TIMEOUT + 10):
                    while True:
                        if conn.poll():
                            message = conn.recv()
                            if message[0] == "result":
                                break
                        elif not self._procs[i].is_alive():
                            raise EOFError
                        else:
                            await asyncio.sleep(0.02)
            except (TimeoutError, EOFError, OSError):
                for index in self.shares[i]:
                    subscribers[index].error = "worker process returned no results"
                continue
            for index, arrivals, error, aborted, ended, warm in message[1]:
                sub = subscribers[index]
                sub.arrivals, sub.error, sub.aborted_groups, sub.track_ended = arrivals, error, aborted, ended
                if warm:
                    sub.first_frame.set()
        for proc in self._procs:
            await asyncio.to_thread(proc.join, 5)
            if proc.is_alive():
                proc.kill()
        return subscribers


def worker_entry(conn: Any, params: dict[str, Any]) -> None:
    """A load-generator worker process: run some subscribers until told to stop."""
    _die_with_parent()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(worker_async(conn, params))


async def worker_async(conn: Any, params: dict[str, Any]) -> None:
    config = hang.ClientConfig(versions=(Version(params["version"]),), fingerprints=[params["fingerprint"]],
                               timeout=params["timeout"])
    subscribers = [Subscriber(i) for i in params["indices"]]
    slots = asyncio.Semaphore(CONNECT_CONCURRENCY)
    tasks = [asyncio.ensure_future(s.run(params["url"], config, slots)) for s in subscribers]
    last: tuple[int, int] | None = None
    while not conn.poll():
        warm = sum(s.first_frame.is_set() for s in subscribers)
        failed = sum(t.done() and not s.first_frame.is_set() for s, t in zip(subscribers, tasks, strict=True))
        if (warm, failed) != last:
            last = (warm, failed)
            conn.send(("status", last))
        await asyncio.sleep(0.05)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    conn.send(("result", [(s.index, s.arrivals, s.error, s.aborted_groups, s.track_ended, s.first_frame.is_set())
                          for s in subscribers]))



@dataclass
class Window:
    start_ns: int
    end_ns: int
    relay_cpu: float
    loadgen_cpu: float
    relay_rss_mib: float | None
    relay_log_alerts: list[str]


async def measure(relay: RelayProcess, n: int, args: argparse.Namespace, tag: str) -> dict[str, Any]:
    """Publisher + N subscribers through ``relay``: warm up, measure one window, analyse."""
    url = f"{args.scheme}://{relay.addr}/"
    config = hang.ClientConfig(versions=(args.version,), fingerprints=[relay.fingerprint], timeout=CONNECT_TIMEOUT)
    pool: LocalPool | ProcessPool = LocalPool(n) if args.loadgen_procs <= 1 else ProcessPool(n, args.loadgen_procs)

    def loadgen_cpu() -> float:
        total = cpu_seconds("self")
        for pid in pool.pids():
            with contextlib.suppress(OSError):
                total += cpu_seconds(pid)
        return total

    async with hang.connect(url, config) as pub_session:
        broadcast = hang.BroadcastProducer()
        track = broadcast.create_track(TRACK)
        publisher = Publisher(track, args.frame_size, args.frame_rate, args.group_frames)
        pub_session.publish(BROADCAST, broadcast.consume())
        writer = asyncio.ensure_future(publisher.run())
        subscribers: list[Subscriber] = []
        try:
            progress(f"{tag}: connecting {n} subscriber session(s)"
                     + (f" from {len(pool.shares)} worker processes" if isinstance(pool, ProcessPool) else ""))
            warm_start = time.perf_counter()
            pool.start(url, config)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(args.warmup_timeout):
                    # Until every subscriber has a frame (or has failed: its task ended without one).
                    while sum(pool.status()) < n:
                        await asyncio.sleep(0.02)
            warm, failed = pool.status()
            warmup_s = time.perf_counter() - warm_start
            if warm == 0:
                subscribers = await pool.stop()
                errors = sorted({s.error for s in subscribers if s.error})
                raise RuntimeError(f"no subscriber received a frame within {warmup_s:.1f}s; errors: {errors}")
            if warm < n:
                progress(f"{tag}: only {warm}/{n} subscribers received a frame after {warmup_s:.1f}s "
                         f"({failed} failed); measuring anyway")
            else:
                progress(f"{tag}: all {n} subscribers receiving after {warmup_s:.1f}s; measuring {args.duration:g}s")
            if args.settle:
                await asyncio.sleep(args.settle)
            relay_cpu0, loadgen_cpu0, log0 = relay.cpu_seconds(), loadgen_cpu(), relay.log_size()
            start_ns = time.perf_counter_ns()
            await asyncio.sleep(args.duration)
            end_ns = time.perf_counter_ns()
            window = Window(start_ns, end_ns, relay.cpu_seconds() - relay_cpu0, loadgen_cpu() - loadgen_cpu0,
                            rss_mib(relay.pid), relay.log_lines(log0, relay.log_size(), LOG_ALERT))
            progress(f"{tag}: window closed; draining {args.drain:g}s")
            await asyncio.sleep(args.drain)
            subscribers = await pool.stop()
        finally:
            if not subscribers:
                await pool.stop()
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
            track.finish()
            broadcast.close()
    return analyse(subscribers, publisher, window, n, warm, warmup_s, args)


def analyse(subscribers: list[Subscriber], publisher: Publisher, window: Window, n: int, warm: int,
            warmup_s: float, args: argparse.Namespace) -> dict[str, Any]:
    seconds = (window.end_ns - window.start_ns) / 1e9
    deadline = window.end_ns + int(args.drain * 1e9)
    in_window = {seq for seq, sent in enumerate(publisher.sent_ns) if window.start_ns <= sent < window.end_ns}
    latencies: list[float] = []
    delivered = 0
    egress_bytes = 0
    duplicates = 0
    per_sub: list[float] = []
    # Per (subscriber, group with frames sent in the window): all, some or none of those frames delivered.
    group_size: dict[int, int] = {}
    for seq in in_window:
        group_size[seq // args.group_frames] = group_size.get(seq // args.group_frames, 0) + 1
    groups = {"complete": 0, "partial": 0, "missing": 0}
    by_second: dict[int, list[float]] = {}  # second of the window a frame was sent in -> its latencies
    for sub in subscribers:
        seen: set[int] = set()
        got = 0
        per_group = dict.fromkeys(group_size, 0)
        for seq, sent, received, size in sub.arrivals:
            if window.start_ns <= received <= window.end_ns:
                egress_bytes += size
            if seq in seen:
                duplicates += 1
                continue
            seen.add(seq)
            if seq in in_window and received <= deadline:
                got += 1
                per_group[seq // args.group_frames] += 1
                latencies.append((received - sent) / 1e6)
                by_second.setdefault((sent - window.start_ns) // 1_000_000_000, []).append(latencies[-1])
        delivered += got
        for group, count in per_group.items():
            groups["complete" if count == group_size[group] else "partial" if count else "missing"] += 1
        per_sub.append(got / len(in_window) if in_window else 0.0)
    latencies.sort()
    expected = len(in_window) * n
    nominal = args.frame_rate * seconds
    return {
        "subscribers": n,
        "subscribers_warm": warm,
        "warmup_s": round(warmup_s, 3),
        "window_s": round(seconds, 3),
        "frames_sent": len(in_window),
        "frames_sent_nominal": round(nominal, 1),
        "publisher_reschedules": publisher.reschedules,
        "frames_expected": expected,
        "frames_delivered": delivered,
        "delivered_fraction": delivered / expected if expected else None,
        "delivered_fraction_min_subscriber": min(per_sub) if per_sub else None,
        "duplicate_frames": duplicates,
        "window_groups_per_subscriber": groups,
        "egress_mbps": egress_bytes * 8 / seconds / 1e6,
        "egress_mbps_nominal": len(in_window) * args.frame_size * 8 * n / seconds / 1e6,
        "latency_ms": {
            "p50": percentile(latencies, 50),
            "p90": percentile(latencies, 90),
            "p99": percentile(latencies, 99),
            "max": latencies[-1] if latencies else None,
            "mean": sum(latencies) / len(latencies) if latencies else None,
            "samples": len(latencies),
            "p50_by_send_second": [percentile(sorted(by_second.get(i, [])), 50) for i in range(math.ceil(seconds))],
        },
        "relay_cpu_s": round(window.relay_cpu, 3),
        "relay_cpu_pct": round(100 * window.relay_cpu / seconds, 1),
        "relay_rss_mib": round(window.relay_rss_mib, 1) if window.relay_rss_mib is not None else None,
        "loadgen_procs": args.loadgen_procs,
        "loadgen_cpu_s": round(window.loadgen_cpu, 3),
        "loadgen_cpu_pct": round(100 * window.loadgen_cpu / seconds, 1),
        "aborted_groups": sum(s.aborted_groups for s in subscribers),
        "subscriber_errors": sorted({s.error for s in subscribers if s.error}),
        "subscribers_track_ended": sum(s.track_ended for s in subscribers),
        "relay_log_alerts_in_window": window.relay_log_alerts[:20],
    }


async def run_case(kind: str, n: int, args: argparse.Namespace, logdir: Path) -> dict[str, Any]:
    tag = f"{kind} N={n}"
    relay = RelayProcess(kind, logdir / f"{kind}-N{n}.log", args.version)
    result: dict[str, Any] = {"relay": kind, "subscribers": n}
    budget = RELAY_START_TIMEOUT + CONNECT_TIMEOUT + args.warmup_timeout + args.settle + args.duration + args.drain + 30
    deadline: asyncio.Timeout | None = None
    try:
        progress(f"{tag}: starting relay")
        await relay.start()
        progress(f"{tag}: relay pid {relay.pid} at {relay.addr} ({args.scheme}, {args.version.label})")
        async with asyncio.timeout(budget) as deadline:
            result.update(await measure(relay, n, args, tag))
    except TimeoutError as exc:
        expired = deadline is not None and deadline.expired()
        result["error"] = f"run exceeded its {budget:.0f}s budget" if expired else f"TimeoutError: {exc}"
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        alive = relay.returncode is None
        code = await relay.stop()
        result["relay_exit"] = code
        if relay.proc is not None and not alive:
            result["relay_crashed"] = True
            result.setdefault("error", f"relay exited with code {code} during the run")
    if "error" in result:
        progress(f"{tag}: FAILED: {result['error']}")
        result["relay_log_tail"] = tail = relay.log_tail(1500)
        if tail:
            progress(f"{tag}: relay log tail:\n{tail}")
    else:
        progress(f"{tag}: {format_row(result)}")
    return result


# ---------------------------------------------------------------------------------------------------------------
# Output

COLUMNS = ("N", "relay", "delivered", "egress Mbit/s", "p50 ms", "p99 ms", "relay CPU s", "relay CPU %",
           "loadgen CPU %")


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def row_cells(result: dict[str, Any]) -> list[str]:
    if "error" in result and "delivered_fraction" not in result:
        return [str(result["subscribers"]), result["relay"], "FAILED", "-", "-", "-", "-", "-", "-"]
    latency = result["latency_ms"]
    return [str(result["subscribers"]), result["relay"], fmt(result["delivered_fraction"], ".4f"),
            fmt(result["egress_mbps"], ".2f"), fmt(latency["p50"], ".1f"), fmt(latency["p99"], ".1f"),
            fmt(result["relay_cpu_s"], ".2f"), fmt(result["relay_cpu_pct"], ".0f"),
            fmt(result["loadgen_cpu_pct"], ".0f")]


def format_row(result: dict[str, Any]) -> str:
    return "  ".join(f"{h}={c}" for h, c in zip(COLUMNS, row_cells(result), strict=True))


def table(results: list[dict[str, Any]], relays: list[str]) -> str:
    order = {kind: i for i, kind in enumerate(relays)}
    rows = [row_cells(r) for r in sorted(results, key=lambda r: (r["subscribers"], order[r["relay"]]))]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(COLUMNS)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(COLUMNS, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    previous = None
    for row in rows:
        if previous is not None and row[0] != previous:
            lines.append("")
        previous = row[0]
        lines.append("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def notes(results: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in results:
        tag = f"{r['relay']} N={r['subscribers']}"
        if "error" in r:
            out.append(f"{tag}: {r['error']}")
        if "delivered_fraction" not in r:
            continue
        if r["subscribers_warm"] < r["subscribers"]:
            out.append(f"{tag}: only {r['subscribers_warm']}/{r['subscribers']} subscribers got a frame in warm-up")
        if r["subscriber_errors"]:
            out.append(f"{tag}: subscriber errors: {r['subscriber_errors']}")
        if r["duplicate_frames"]:
            out.append(f"{tag}: {r['duplicate_frames']} duplicate frames received")
        if r["aborted_groups"]:
            out.append(f"{tag}: {r['aborted_groups']} groups aborted")
        if r["frames_sent"] < 0.95 * r["frames_sent_nominal"]:
            out.append(f"{tag}: publisher sent {r['frames_sent']} of {r['frames_sent_nominal']:.0f} nominal frames "
                       "(load generator fell behind)")
        procs = min(r.get("loadgen_procs", 1), r["subscribers"])
        if r["loadgen_cpu_pct"] >= 90 * procs:
            out.append(f"{tag}: load generator used {r['loadgen_cpu_pct']:.0f}% CPU in {procs} process(es): "
                       "it may be the bottleneck")
        if r["relay_cpu_pct"] >= 90:
            out.append(f"{tag}: relay used {r['relay_cpu_pct']:.0f}% CPU (one core is 100%)")
        total = r["relay_cpu_pct"] + r["loadgen_cpu_pct"]
        if total >= 90 * (os.cpu_count() or 1):
            out.append(f"{tag}: relay + load generator used {total:.0f}% CPU of {os.cpu_count()} cores: "
                       "the machine is saturated")
        if r["relay_log_alerts_in_window"]:
            out.append(f"{tag}: relay logged during the window: {r['relay_log_alerts_in_window'][:3]}")
    return out


# ---------------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", default="1,10,40", help="comma-separated subscriber counts (default 1,10,40)")
    parser.add_argument("--bitrate-mbps", type=float, default=2.0, help="publisher bitrate in Mbit/s (default 2)")
    parser.add_argument("--frame-rate", type=float, default=30.0, help="frames per second (default 30)")
    parser.add_argument("--group-frames", type=int, default=30, help="frames per group (default 30)")
    parser.add_argument("--duration", type=float, default=10.0, help="measuring window in seconds (default 10)")
    parser.add_argument("--relays", default="hang,moq-rs", help="relays to compare (default hang,moq-rs)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "relay_fanout.json",
                        help="where to write the results (default bench/results/relay_fanout.json)")
    parser.add_argument("--version", type=parse_version, default=Version.LITE_05,
                        help="moq-lite version for every session (default 05)")
    parser.add_argument("--scheme", choices=("https", "moql"), default="https",
                        help="https = WebTransport, moql = raw QUIC (default https)")
    parser.add_argument("--warmup-timeout", type=float, default=30.0,
                        help="seconds to wait for every subscriber's first frame (default 30)")
    parser.add_argument("--settle", type=float, default=0.0,
                        help="extra seconds between warm-up and the window (default 0)")
    parser.add_argument("--loadgen-procs", type=int, default=1,
                        help="processes the subscribers are spread over; 1 = all in this process, next to the "
                             "publisher (default 1)")
    parser.add_argument("--drain", type=float, default=2.0,
                        help="seconds after the window a frame sent in it may still arrive (default 2)")
    args = parser.parse_args(argv)
    try:
        args.subscriber_counts = [int(x) for x in args.subscribers.split(",") if x.strip()]
    except ValueError:
        parser.error("--subscribers wants integers, e.g. 1,10,40")
    if not args.subscriber_counts or min(args.subscriber_counts) < 1:
        parser.error("--subscribers wants counts >= 1")
    args.relay_list = [x.strip() for x in args.relays.split(",") if x.strip()]
    unknown = set(args.relay_list) - set(RELAYS)
    if unknown or not args.relay_list:
        parser.error(f"--relays: choose from {', '.join(RELAYS)}")
    if args.version < Version.LITE_03 and "moq-rs" in args.relay_list:
        parser.error("moq.Server speaks lite-03 and newer")
    if args.frame_rate <= 0 or args.group_frames < 1 or args.duration <= 0 or args.bitrate_mbps <= 0:
        parser.error("--frame-rate, --group-frames, --duration and --bitrate-mbps must be positive")
    args.frame_size = round(args.bitrate_mbps * 1e6 / 8 / args.frame_rate)
    if args.frame_size < HEADER.size:
        parser.error(f"frames of {args.frame_size} bytes cannot hold the {HEADER.size}-byte header")
    return args


async def main_async(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    assert main_task is not None
    loop.add_signal_handler(signal.SIGTERM, main_task.cancel)
    results: list[dict[str, Any]] = []
    progress(f"frame {args.frame_size} B at {args.frame_rate:g} fps ({args.bitrate_mbps:g} Mbit/s), "
             f"groups of {args.group_frames}, window {args.duration:g}s, {args.scheme} {args.version.label}")
    with tempfile.TemporaryDirectory(prefix="relay-fanout-") as tmp:
        for n in args.subscriber_counts:
            for kind in args.relay_list:
                results.append(await run_case(kind, n, args, Path(tmp)))
    report = {
        "benchmark": "relay_fanout",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config": {
            "subscribers": args.subscriber_counts, "relays": args.relay_list, "bitrate_mbps": args.bitrate_mbps,
            "frame_rate": args.frame_rate, "frame_size": args.frame_size, "group_frames": args.group_frames,
            "duration_s": args.duration, "drain_s": args.drain, "settle_s": args.settle,
            "warmup_timeout_s": args.warmup_timeout, "loadgen_procs": args.loadgen_procs,
            "version": args.version.label, "scheme": args.scheme,
            "broadcast": BROADCAST, "track": TRACK,
        },
        "host": {
            "cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "packages": versions_of("hang", "aioquic", "moq-rs", "moq-ffi"), "git": git_describe(),
        },
        "results": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"relay fan-out: {args.bitrate_mbps:g} Mbit/s ({args.frame_size} B x {args.frame_rate:g} fps, groups of "
          f"{args.group_frames}), {args.duration:g}s window, {args.scheme} {args.version.label}, "
          f"{os.cpu_count()} CPUs")
    print(table(results, args.relay_list))
    for line in notes(results):
        print(f"note: {line}")
    print(f"results: {args.json}")
    return 1 if any("error" in r for r in results) else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return asyncio.run(main_async(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        progress("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
