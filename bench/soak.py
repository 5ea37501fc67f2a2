#!/usr/bin/env python3
"""Soak test: 4 publishers and 20 viewers through one ``hang relay`` subprocess for a long time.

The relay runs as its own subprocess on loopback (``hang relay --listen 127.0.0.1:0``). This
process runs the publishers: each one announces ``soak/pubI`` and writes one track, ``video``, at
``--frame-rate`` with a new group every ``--group-frames`` frames; every payload starts with its
send time and a sequence number. The viewers run in ``--viewer-procs`` worker processes; viewer J
watches publisher ``J % publishers`` and records every sequence number it receives.

Every ``--sample-interval`` seconds the relay's resident set size (VmRSS from /proc/PID/status) is
sampled and a progress line printed. At the end the publishers stop, the viewers get ``--drain``
seconds for late frames, and the script prints a table and writes JSON (default
``bench/results/soak.json``):

- relay RSS at start, after warm-up, at the end, and its peak; the slope after warm-up (MiB/min)
- per viewer: delivered fraction = frames received / frames published while it was subscribed
  (from the first frame of the first group it received to the last frame published)

Pass criteria (exit code 0): the relay's RSS at the end is within ``--rss-tolerance`` (10 %) of
its value after warm-up, and every viewer's delivered fraction is >= ``--min-delivered`` (99.9 %).

Usage::

    python bench/soak.py [--duration 600] [--publishers 4] [--viewers 20] [--frame-size 1500]
        [--frame-rate 30] [--group-frames 30] [--warmup 60] [--json bench/results/soak.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import platform
import signal
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import RELAY_STOP_TIMEOUT, RelayProcess, die_with_parent, git_describe, progress, rss_mib, versions_of

import hang
from hang.wire.constants import Version, parse_version

ROOT = Path(__file__).resolve().parent.parent
TRACK = "video"
#: Payload header: send time (perf_counter_ns) and sequence number.
HEADER = struct.Struct(">QQ")
CONNECT_TIMEOUT = 20.0


def broadcast_path(index: int) -> str:
    return f"soak/pub{index}"


# ---------------------------------------------------------------------------------------------------------------
# Publishers (this process)


@dataclass
class Publisher:
    index: int
    frame_size: int
    frame_rate: float
    group_frames: int
    sent: int = 0
    error: str | None = None

    async def run(self, url: str, config: hang.ClientConfig, stop: asyncio.Event, ready: asyncio.Event) -> None:
        pad = bytes(self.frame_size - HEADER.size)
        interval = 1.0 / self.frame_rate
        try:
            async with hang.connect(url, config) as session:
                broadcast = hang.BroadcastProducer()
                track = broadcast.create_track(TRACK)
                session.publish(broadcast_path(self.index), broadcast.consume())
                ready.set()
                group: hang.GroupProducer | None = None
                start = time.perf_counter()
                while not stop.is_set() and not session.closed.done():
                    if self.sent % self.group_frames == 0:
                        group = track.append_group()
                    assert group is not None
                    group.write_frame(HEADER.pack(time.perf_counter_ns(), self.sent) + pad,
                                      round(self.sent * interval * 1_000_000))
                    self.sent += 1
                    delay = start + self.sent * interval - time.perf_counter()
                    if delay < -interval:  # fell behind: do not burst to catch up
                        start = time.perf_counter() - self.sent * interval
                    await asyncio.sleep(max(0.0, delay))
                if group is not None:
                    group.finish()
                if session.closed.done():
                    self.error = f"session closed: {session.closed.result()}"
                # Keep the session (and the broadcast) up while the viewers drain.
                await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            progress(f"publisher {self.index} failed: {self.error}")


# ---------------------------------------------------------------------------------------------------------------
# Viewers (worker processes)


@dataclass
class Viewer:
    index: int
    publisher: int
    received: set[int] = field(default_factory=set)
    duplicates: int = 0
    aborted_groups: int = 0
    error: str | None = None

    async def run(self, url: str, config: hang.ClientConfig, slots: asyncio.Semaphore) -> None:
        path = broadcast_path(self.publisher)
        try:
            async with contextlib.AsyncExitStack() as stack:
                async with slots:
                    session = await stack.enter_async_context(hang.connect(url, config))
                announcements = session.announced("soak")
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    async for item in announcements:
                        if item.path == path and item.active:
                            break
                await announcements.aclose()  # type: ignore[attr-defined]
                consumer = await session.subscribe(path, TRACK)
                stack.callback(consumer.close)
                tasks: set[asyncio.Task[None]] = set()
                try:
                    while (group := await consumer.next_group()) is not None:
                        task = asyncio.ensure_future(self._read_group(group))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
                    self.error = "track ended"
                finally:
                    for task in tasks:
                        task.cancel()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"

    async def _read_group(self, group: hang.GroupConsumer) -> None:
        try:
            while (frame := await group.read_frame()) is not None:
                _, seq = HEADER.unpack_from(frame.payload)
                if seq in self.received:
                    self.duplicates += 1
                self.received.add(seq)
        except hang.HangError:
            self.aborted_groups += 1


def worker_entry(conn: Any, params: dict[str, Any]) -> None:
    die_with_parent()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(worker_async(conn, params))


async def worker_async(conn: Any, params: dict[str, Any]) -> None:
    config = hang.ClientConfig(versions=(Version(params["version"]),), fingerprints=[params["fingerprint"]],
                               timeout=CONNECT_TIMEOUT)
    viewers = [Viewer(i, i % params["publishers"]) for i in params["indices"]]
    slots = asyncio.Semaphore(4)
    tasks = [asyncio.ensure_future(v.run(params["url"], config, slots)) for v in viewers]
    while not conn.poll():
        conn.send(("status", [(v.index, len(v.received), v.error) for v in viewers]))
        await asyncio.sleep(1.0)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    conn.send(("result", [(v.index, v.publisher, sorted(v.received), v.duplicates, v.aborted_groups, v.error)
                          for v in viewers]))


class ViewerPool:
    def __init__(self, n: int, procs: int) -> None:
        self.shares = [list(range(w, n, procs)) for w in range(min(procs, n))]
        self.procs: list[Any] = []
        self.conns: list[Any] = []
        self.status: dict[int, tuple[int, str | None]] = {}

    def start(self, url: str, fingerprint: str, version: Version, publishers: int) -> None:
        context = multiprocessing.get_context("spawn")
        for indices in self.shares:
            parent, child = context.Pipe()
            params = {"url": url, "fingerprint": fingerprint, "version": int(version), "indices": indices,
                      "publishers": publishers}
            proc = context.Process(target=worker_entry, args=(child, params), daemon=True)
            proc.start()
            child.close()
            self.procs.append(proc)
            self.conns.append(parent)

    def poll(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(EOFError, OSError):
                while conn.poll():
                    message = conn.recv()
                    if message[0] == "status":
                        for index, count, error in message[1]:
                            self.status[index] = (count, error)

    async def stop(self) -> list[tuple[Any, ...]]:
        results: list[tuple[Any, ...]] = []
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.send(("stop",))
        for i, conn in enumerate(self.conns):
            with contextlib.suppress(TimeoutError, EOFError, OSError):
                async with asyncio.timeout(RELAY_STOP_TIMEOUT + 20):
                    while True:
                        if conn.poll():
                            message = conn.recv()
                            if message[0] == "result":
                                results += message[1]
                                break
                        elif not self.procs[i].is_alive():
                            break
                        else:
                            await asyncio.sleep(0.05)
        for proc in self.procs:
            await asyncio.to_thread(proc.join, 5)
            if proc.is_alive():
                proc.kill()
        return results


# ---------------------------------------------------------------------------------------------------------------


def slope_per_minute(samples: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MiB) samples, in MiB per minute."""
    if len(samples) < 2:
        return None
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_v = sum(v for _, v in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if var == 0:
        return None
    return 60 * sum((t - mean_t) * (v - mean_v) for t, v in samples) / var


def analyse(viewer_results: list[tuple[Any, ...]], publishers: list[Publisher], n_viewers: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    by_index = {r[0]: r for r in viewer_results}
    for index in range(n_viewers):
        result = by_index.get(index)
        if result is None:
            rows.append({"viewer": index, "delivered_fraction": 0.0, "error": "worker returned no result"})
            continue
        _, pub, received, duplicates, aborted, error = result
        last = publishers[pub].sent - 1
        if not received:
            rows.append({"viewer": index, "publisher": pub, "delivered_fraction": 0.0, "received": 0,
                         "error": error or "no frame received"})
            continue
        first = received[0]
        expected = last - first + 1
        got = sum(1 for seq in received if first <= seq <= last)
        rows.append({"viewer": index, "publisher": pub, "first_seq": first, "last_seq": last,
                     "expected": expected, "received": got, "missing": expected - got,
                     "delivered_fraction": got / expected if expected > 0 else 0.0,
                     "duplicates": duplicates, "aborted_groups": aborted, "error": error})
    return rows


async def soak(args: argparse.Namespace, logdir: Path) -> dict[str, Any]:
    relay = RelayProcess("hang", logdir / "relay.log", args.version)
    publishers = [Publisher(i, args.frame_size, args.frame_rate, args.group_frames) for i in range(args.publishers)]
    pool = ViewerPool(args.viewers, args.viewer_procs)
    samples: list[tuple[float, float]] = []
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    viewer_results: list[tuple[Any, ...]] = []
    try:
        await relay.start()
        url = f"{args.scheme}://{relay.addr}/"
        progress(f"relay pid {relay.pid} at {relay.addr}; {args.publishers} publishers, {args.viewers} viewers, "
                 f"{args.duration:g}s ({args.scheme} {args.version.label})")
        config = hang.ClientConfig(versions=(args.version,), fingerprints=[relay.fingerprint],
                                   timeout=CONNECT_TIMEOUT)
        ready = [asyncio.Event() for _ in publishers]
        tasks = [asyncio.ensure_future(p.run(url, config, stop, r)) for p, r in zip(publishers, ready, strict=True)]
        async with asyncio.timeout(CONNECT_TIMEOUT):
            await asyncio.gather(*(r.wait() for r in ready))
        pool.start(url, relay.fingerprint, args.version, args.publishers)
        started = time.monotonic()
        next_sample = started
        while (elapsed := time.monotonic() - started) < args.duration:
            if relay.returncode is not None:
                raise RuntimeError(f"relay exited with code {relay.returncode}")
            pool.poll()
            rss = rss_mib(relay.pid)
            if rss is not None:
                samples.append((elapsed, rss))
            counts = [c for c, _ in pool.status.values()]
            errors = sum(1 for _, e in pool.status.values() if e)
            progress(f"t={elapsed:6.0f}s relay RSS {rss or 0:7.1f} MiB  published {sum(p.sent for p in publishers):7d}"
                     f"  viewers receiving {sum(1 for c in counts if c)}/{args.viewers}, frames {sum(counts):8d}"
                     + (f", {errors} with errors" if errors else ""))
            next_sample += args.sample_interval
            await asyncio.sleep(max(0.0, next_sample - time.monotonic()))
        stop.set()
        progress(f"publishers stopped; draining {args.drain:g}s")
        await asyncio.sleep(args.drain)
        rss = rss_mib(relay.pid)
        if rss is not None:
            samples.append((time.monotonic() - started, rss))
        viewer_results = await pool.stop()
    finally:
        if not viewer_results and pool.procs:
            await pool.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        code = await relay.stop()
    viewers = analyse(viewer_results, publishers, args.viewers)
    warm = next((v for t, v in samples if t >= args.warmup), samples[-1][1] if samples else None)
    after_warmup = [(t, v) for t, v in samples if t >= args.warmup]
    rss_summary = {
        "start_mib": samples[0][1] if samples else None,
        "after_warmup_mib": warm,
        "end_mib": samples[-1][1] if samples else None,
        "peak_mib": max(v for _, v in samples) if samples else None,
        "slope_mib_per_min_after_warmup": slope_per_minute(after_warmup),
        "slope_mib_per_min_last_half": slope_per_minute([(t, v) for t, v in samples if t >= args.duration / 2]),
    }
    fractions = [v["delivered_fraction"] for v in viewers]
    memory_ok = bool(warm and rss_summary["end_mib"] is not None
                     and rss_summary["end_mib"] <= warm * (1 + args.rss_tolerance))
    delivery_ok = bool(fractions) and min(fractions) >= args.min_delivered
    return {
        "rss": rss_summary,
        "rss_samples": [(round(t, 1), round(v, 2)) for t, v in samples],
        "viewers": viewers,
        "publishers": [{"publisher": p.index, "frames_sent": p.sent, "error": p.error} for p in publishers],
        "delivered_fraction_min": min(fractions) if fractions else None,
        "delivered_fraction_mean": sum(fractions) / len(fractions) if fractions else None,
        "relay_exit": code,
        "relay_log_tail": relay.log_tail(1500) if not (memory_ok and delivery_ok) else "",
        "pass": {"memory_flat": memory_ok, "delivery": delivery_ok},
    }


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def report_text(result: dict[str, Any], args: argparse.Namespace) -> str:
    rss = result["rss"]
    lines = [
        f"soak: {args.publishers} publishers x {args.frame_size} B at {args.frame_rate:g} fps, {args.viewers} viewers, "
        f"{args.duration:g}s, {args.scheme} {args.version.label}",
        "",
        "relay RSS (MiB)   start   after warm-up   end     peak    slope after warm-up / last half (MiB/min)",
        f"                  {fmt(rss['start_mib'], '6.1f')}  {fmt(rss['after_warmup_mib'], '12.1f')}  "
        f"{fmt(rss['end_mib'], '6.1f')}  {fmt(rss['peak_mib'], '6.1f')}  "
        f"{fmt(rss['slope_mib_per_min_after_warmup'], '+.3f')} / {fmt(rss['slope_mib_per_min_last_half'], '+.3f')}",
        "",
        "viewer  publisher  expected  received  missing  delivered  error",
    ]
    for v in result["viewers"]:
        lines.append(f"{v['viewer']:6d}  {v.get('publisher', -1):9d}  {v.get('expected', 0):8d}  "
                     f"{v.get('received', 0):8d}  {v.get('missing', 0):7d}  {v['delivered_fraction']:9.5f}  "
                     f"{v.get('error') or ''}")
    verdict = result["pass"]
    lines += [
        "",
        f"min delivered fraction {fmt(result['delivered_fraction_min'], '.5f')} "
        f"(need >= {args.min_delivered}): {'PASS' if verdict['delivery'] else 'FAIL'}",
        f"memory end {fmt(rss['end_mib'], '.1f')} MiB vs {fmt(rss['after_warmup_mib'], '.1f')} MiB after warm-up "
        f"(need <= +{args.rss_tolerance:.0%}): {'PASS' if verdict['memory_flat'] else 'FAIL'}",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of publishing (default 600)")
    parser.add_argument("--publishers", type=int, default=4, help="publisher sessions (default 4)")
    parser.add_argument("--viewers", type=int, default=20, help="viewer sessions (default 20)")
    parser.add_argument("--viewer-procs", type=int, default=2, help="worker processes for the viewers (default 2)")
    parser.add_argument("--frame-size", type=int, default=1500, help="bytes per frame (default 1500)")
    parser.add_argument("--frame-rate", type=float, default=30.0, help="frames per second (default 30)")
    parser.add_argument("--group-frames", type=int, default=30, help="frames per group (default 30)")
    parser.add_argument("--sample-interval", type=float, default=5.0, help="seconds between RSS samples (default 5)")
    parser.add_argument("--warmup", type=float, default=None,
                        help="seconds before the RSS reference sample (default: 60, or a fifth of a shorter run)")
    parser.add_argument("--drain", type=float, default=3.0, help="seconds for late frames at the end (default 3)")
    parser.add_argument("--rss-tolerance", type=float, default=0.10, help="allowed RSS growth after warm-up (0.10)")
    parser.add_argument("--min-delivered", type=float, default=0.999, help="per-viewer delivered fraction (0.999)")
    parser.add_argument("--version", type=parse_version, default=Version.LITE_05, help="moq-lite version (05)")
    parser.add_argument("--scheme", choices=("https", "moql"), default="https",
                        help="https = WebTransport, moql = raw QUIC (default https)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "soak.json",
                        help="where to write the results (default bench/results/soak.json)")
    args = parser.parse_args(argv)
    if min(args.duration, args.frame_rate, args.sample_interval) <= 0 or min(args.publishers, args.viewers,
                                                                             args.viewer_procs, args.group_frames) < 1:
        parser.error("durations, rates and counts must be positive")
    if args.frame_size < HEADER.size:
        parser.error(f"--frame-size must be at least {HEADER.size}")
    if args.warmup is None:
        args.warmup = min(60.0, args.duration / 5)
    return args


async def main_async(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    assert main_task is not None
    loop.add_signal_handler(signal.SIGTERM, main_task.cancel)
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        result = await soak(args, Path(tmp))
    report = {
        "benchmark": "soak",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config": {k: (v.label if isinstance(v, Version) else str(v) if isinstance(v, Path) else v)
                   for k, v in vars(args).items()},
        "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                 "packages": versions_of("hang", "aioquic"), "git": git_describe()},
        **result,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(report_text(result, args))
    print(f"results: {args.json}")
    return 0 if all(result["pass"].values()) else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return asyncio.run(main_async(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        progress("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
