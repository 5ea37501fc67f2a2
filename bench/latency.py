#!/usr/bin/env python3
"""Glass-to-glass latency on loopback: capture -> presentation of each video frame, ``hang relay`` vs ``moq.Server``.

For every relay (each in its own subprocess on 127.0.0.1), this one process runs the whole media path:

- a publisher: ``TestPatternVideo`` (1280x720 at 30 fps by default) -> ``VideoEncoder`` (h264) ->
  ``MediaBroadcast`` via ``hang.publish.live.pump_video``, published with ``hang.publish.runner.keep_published``;
- a watcher: ``hang.connect`` + ``hang.watch.participant.Participant`` on the broadcast, which follows the
  catalog, subscribes to the video rendition, decodes it and appends ``(timestamp_us, arrival, frame)`` to
  ``participant.video_queue``.

Every timestamp is ``time.monotonic()`` in this process, keyed by the frame's ``pts`` (microseconds, carried
end to end as the Hang frame timestamp). Per frame:

- capture: when the source handed the frame out (``source.recv()`` returned);
- encoded: when the encoded packet went into the broadcast (``MediaBroadcast.push`` returned);
- received: when the watcher read the media unit from the track (a ``Participant`` unit sink, before decoding;
  ``Participant`` reads the next unit only once the previous one is decoded);
- decoded: the arrival time ``Participant`` put into ``video_queue`` next to the decoded picture;
- presented: decoded + ``hang.cli.watch.PLAYOUT_DELAY``, the moment ``hang watch``'s ``Presenter.present``
  shows the picture at the earliest (its 60 Hz loop may add up to one tick on top).

Latency to each stage = stage time - capture time. The table also shows the hop encoded -> received (the
publisher's QUIC session, the relay, the watcher's session and any wait behind the previous frame's
decoding): the only part of the path a relay is on. The window opens ``--warmup`` seconds after the first
decoded frame and lasts ``--duration`` seconds; frames *captured* in it count, and they may finish the path
until ``--drain`` seconds after it. Both relays get the same pipeline, lite-05 only, with the certificate
fingerprint from the relay's ready line pinned.

Usage::

    python bench/latency.py [--relays hang,moq-rs] [--size 1280x720] [--fps 30] [--bitrate 2000000]
        [--keyframe-interval 2] [--duration 10] [--warmup 3] [--drain 2] [--scheme https|moql]
        [--json bench/results/latency.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import platform
import re
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import RelayProcess, cpu_seconds, git_describe, percentile, progress, versions_of

import hang
from hang.cli.watch import PLAYOUT_DELAY
from hang.media.capture import MediaSource, TestPatternVideo
from hang.media.encode import VIDEO_ENCODERS, VideoEncoder
from hang.media.packager import EncodedPacket
from hang.media.reader import MediaFrame
from hang.publish.broadcast import MediaBroadcast
from hang.publish.live import pump_video
from hang.publish.runner import keep_published
from hang.watch.participant import Limits, Participant

ROOT = Path(__file__).resolve().parent.parent
BROADCAST = "bench/latency.hang"
RENDITION = "video"
RELAYS = ("hang", "moq-rs")
VERSION = hang.Version.LITE_05
CLK_TCK = os.sysconf("SC_CLK_TCK")
#: (key, label) of every stage, in path order; latency to a stage = its time - capture time.
STAGES = (("encoded", "to encode"), ("received", "to receive"), ("decoded", "to decode"),
          ("presented", "to presentation"))
#: Table label of the relay hop (encoded -> received), the only part of the path the relay is on.
HOP_LABEL = "hop: encode->receive"
#: Relay log lines worth reporting when they appear during the window or the drain after it.
LOG_ALERT = re.compile(r"(?i)\b(warn|warning|error|traceback|exception)\b")

#: Bounds (seconds) that keep every run finite.
CONNECT_TIMEOUT = 10.0
PUBLISHER_STOP_TIMEOUT = 5.0
POLL = 0.05


def summary(values: list[float]) -> dict[str, Any]:
    ordered = sorted(values)
    return {
        "samples": len(ordered),
        "min": ordered[0] if ordered else None,
        "p50": percentile(ordered, 50),
        "p90": percentile(ordered, 90),
        "p99": percentile(ordered, 99),
        "max": ordered[-1] if ordered else None,
        "mean": sum(ordered) / len(ordered) if ordered else None,
    }


def host_cpu_seconds() -> float:
    """Busy CPU time of the whole machine (all cores, every process) from /proc/stat, in seconds."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return (sum(values[:8]) - idle) / CLK_TCK


# ---------------------------------------------------------------------------------------------------------------
# Relay processes


# ---------------------------------------------------------------------------------------------------------------
# The instrumented pipeline


@dataclass
class Timeline:
    """Per-stage ``time.monotonic()`` of every frame, keyed by its timestamp (pts, microseconds)."""

    capture: dict[int, float] = field(default_factory=dict)
    encoded: dict[int, float] = field(default_factory=dict)
    received: dict[int, float] = field(default_factory=dict)
    decoded: dict[int, float] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=lambda: {"encoded": 0, "received": 0, "decoded": 0})
    first_decoded: asyncio.Event = field(default_factory=asyncio.Event)

    def mark(self, stage: str, pts: int, when: float) -> None:
        times: dict[int, float] = getattr(self, stage)
        if pts in times:
            self.duplicates[stage] += 1
        else:
            times[pts] = when


class StampedSource(MediaSource):
    """Hands out the frames of another source and notes when each one came out (its capture time)."""

    kind = "video"

    def __init__(self, inner: MediaSource, timeline: Timeline) -> None:
        self.inner = inner
        self.timeline = timeline

    async def recv(self) -> Any:
        frame = await self.inner.recv()
        self.timeline.capture[frame.pts] = time.monotonic()
        return frame

    def stop(self) -> None:
        self.inner.stop()


class StampedBroadcast(MediaBroadcast):
    """A :class:`MediaBroadcast` that notes when each packet went into its track."""

    def __init__(self, timeline: Timeline, expect: set[str]) -> None:
        super().__init__(expect)
        self.timeline = timeline

    def push(self, name: str, packet: EncodedPacket) -> None:
        super().push(name, packet)
        self.timeline.mark("encoded", packet.timestamp_us, time.monotonic())


class Watcher:
    """A viewer session with one :class:`Participant` on the broadcast, stamping receive and decode times."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.participant: Participant | None = None

    def on_unit(self, participant: Participant, kind: str, unit: MediaFrame) -> None:
        if kind == "video":
            self.timeline.mark("received", unit.timestamp_us, time.monotonic())

    def on_frame(self, participant: Participant, kind: str, frame: Any, unit: MediaFrame) -> None:
        if kind != "video":
            return
        # Participant appended (timestamp us, arrival, frame) to video_queue just before calling its sinks.
        timestamp, arrival, queued = participant.video_queue[-1]
        if queued is not frame:
            raise RuntimeError("video_queue[-1] is not the frame the sink got")
        self.timeline.mark("decoded", timestamp, arrival)
        self.timeline.first_decoded.set()

    async def run(self, url: str, config: hang.ClientConfig, ready: asyncio.Event) -> None:
        async with hang.connect(url, config) as session:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await wait_announced(session, BROADCAST)
            self.participant = Participant(session, BROADCAST, Limits(), sinks=[self.on_frame],
                                           unit_sinks=[self.on_unit])
            self.participant.start()
            ready.set()
            try:
                await session.wait_closed()
                raise RuntimeError("the watcher's session closed")
            finally:
                self.participant.stop()


async def wait_announced(session: hang.MoqSession, path: str) -> None:
    announcements = session.announced(path.rpartition("/")[0])
    try:
        async for item in announcements:
            if item.path == path and item.active:
                return
        raise RuntimeError(f"announcement stream ended before {path} appeared")
    finally:
        await announcements.aclose()  # type: ignore[attr-defined]


class CollectWarnings(logging.Handler):
    """Keeps the warnings and errors ``hang`` logs in this process during a run."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{time.monotonic():.3f} {record.name} {record.levelname}: {record.getMessage()}")


# ---------------------------------------------------------------------------------------------------------------
# One run per relay


async def hold(seconds: float, check: Any) -> None:
    """Sleep ``seconds``, raising as soon as ``check()`` does."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        check()
        await asyncio.sleep(min(POLL, left))
    check()


async def measure(relay: RelayProcess, args: argparse.Namespace, tag: str) -> dict[str, Any]:
    url = f"{args.scheme}://{relay.addr}/"
    config = hang.ClientConfig(versions=(VERSION,), fingerprints=[relay.fingerprint], timeout=CONNECT_TIMEOUT)
    timeline = Timeline()
    encoder = VideoEncoder(args.codec, bitrate=args.bitrate, framerate=args.fps,
                           keyframe_interval=args.keyframe_interval)
    source = StampedSource(TestPatternVideo(args.width, args.height, args.fps), timeline)
    broadcast = StampedBroadcast(timeline, {RENDITION})
    stop = asyncio.Event()
    watcher = Watcher(timeline)
    watcher_ready = asyncio.Event()
    tasks: dict[str, asyncio.Future[None]] = {
        "pump": asyncio.ensure_future(pump_video(source, encoder, broadcast, RENDITION, stop)),
        "publisher": asyncio.ensure_future(keep_published(url, config, BROADCAST, broadcast, stop,
                                                          encoder.request_keyframe)),
    }

    def check() -> None:
        if relay.returncode is not None:
            raise RuntimeError(f"{relay.kind} relay exited with code {relay.returncode}")
        for name, task in tasks.items():
            if task.done():
                exc = None if task.cancelled() else task.exception()
                raise RuntimeError(f"{name} ended early: {type(exc).__name__}: {exc}" if exc else f"{name} ended")
        if watcher.participant is not None and watcher.participant.error:
            raise RuntimeError(f"participant error: {watcher.participant.error}")

    try:
        tasks["watcher"] = asyncio.ensure_future(watcher.run(url, config, watcher_ready))
        started = time.monotonic()
        while not timeline.first_decoded.is_set():
            if time.monotonic() - started > args.warmup_timeout:
                raise RuntimeError(f"no decoded frame within {args.warmup_timeout:g}s "
                                   f"(captured {len(timeline.capture)}, encoded {len(timeline.encoded)}, "
                                   f"received {len(timeline.received)})")
            check()
            await asyncio.sleep(POLL)
        first_frame_s = time.monotonic() - started
        progress(f"{tag}: first frame decoded after {first_frame_s:.2f}s; warming up {args.warmup:g}s")
        await hold(args.warmup, check)
        assert watcher.participant is not None
        stats = watcher.participant.stats
        skipped0, errors0 = stats.groups_skipped, stats.decode_errors
        bytes0 = broadcast.bytes_sent
        cpu0, relay_cpu0, host_cpu0 = cpu_seconds(), cpu_seconds(relay.pid), host_cpu_seconds()
        log0 = relay.log_size()
        window_start = time.monotonic()
        progress(f"{tag}: window open for {args.duration:g}s")
        await hold(args.duration, check)
        window_end = time.monotonic()
        cpu1, relay_cpu1, host_cpu1 = cpu_seconds(), cpu_seconds(relay.pid), host_cpu_seconds()
        bytes1 = broadcast.bytes_sent
        skipped1, errors1 = stats.groups_skipped, stats.decode_errors
        progress(f"{tag}: window closed; draining {args.drain:g}s")
        await hold(args.drain, check)
        participant_error = watcher.participant.error
        alerts = relay.log_lines(log0, relay.log_size(), LOG_ALERT)
    finally:
        watcher_task = tasks.pop("watcher", None)
        if watcher_task is not None:
            watcher_task.cancel()
            await asyncio.gather(watcher_task, return_exceptions=True)
        stop.set()
        publisher = asyncio.gather(*tasks.values(), return_exceptions=True)
        try:
            await asyncio.wait_for(publisher, PUBLISHER_STOP_TIMEOUT)
        except TimeoutError:
            progress(f"{tag}: publisher did not stop within {PUBLISHER_STOP_TIMEOUT:g}s; cancelled")

    seconds = window_end - window_start
    window = sorted(pts for pts, t in timeline.capture.items() if window_start <= t < window_end)
    latencies: dict[str, list[float]] = {key: [] for key, _ in STAGES}
    by_second: dict[int, list[float]] = {}
    for pts in window:
        captured = timeline.capture[pts]
        for key in ("encoded", "received", "decoded"):
            when = getattr(timeline, key).get(pts)
            if when is not None:
                latencies[key].append((when - captured) * 1000)
        decoded = timeline.decoded.get(pts)
        if decoded is not None:
            latencies["presented"].append((decoded + PLAYOUT_DELAY - captured) * 1000)
            by_second.setdefault(int(captured - window_start), []).append((decoded - captured) * 1000)
    # How far behind its own real-time schedule the source handed frames out (relative to its most punctual frame).
    offset = min(t - pts / 1e6 for pts, t in timeline.capture.items())
    source_lag = [(timeline.capture[pts] - pts / 1e6 - offset) * 1000 for pts in window]
    # The hop the relay is on: packet into the publisher's broadcast -> media unit read by the watcher.
    hop = [(timeline.received[pts] - timeline.encoded[pts]) * 1000 for pts in window
           if pts in timeline.received and pts in timeline.encoded]
    return {
        "first_frame_s": round(first_frame_s, 3),
        "window_s": round(seconds, 3),
        "frames_captured": len(window),
        "frames_captured_nominal": round(args.fps * seconds, 1),
        "frames": {key: len(latencies[key]) for key, _ in STAGES},
        "latency_ms": {key: summary(latencies[key]) for key, _ in STAGES},
        "hop_encoded_to_received_ms": summary(hop),
        "decode_p50_ms_by_capture_second": [percentile(sorted(by_second.get(i, [])), 50)
                                            for i in range(math.ceil(seconds))],
        "source_lag_ms": summary(source_lag),
        "duplicates": timeline.duplicates,
        "groups_skipped_in_window": skipped1 - skipped0,
        "decode_errors_in_window": errors1 - errors0,
        "participant_error": participant_error,
        "video_mbps": (bytes1 - bytes0) * 8 / seconds / 1e6,
        "bench_cpu_pct": round(100 * (cpu1 - cpu0) / seconds, 1),
        "relay_cpu_pct": round(100 * (relay_cpu1 - relay_cpu0) / seconds, 1),
        "host_cpu_pct": round(100 * (host_cpu1 - host_cpu0) / seconds, 1),
        "other_cpu_pct": round(100 * (host_cpu1 - host_cpu0 - (cpu1 - cpu0) - (relay_cpu1 - relay_cpu0)) / seconds, 1),
        "relay_log_alerts_in_window": alerts[:20],
    }


async def run_case(kind: str, args: argparse.Namespace, logdir: Path) -> dict[str, Any]:
    relay = RelayProcess(kind, logdir / f"{kind}.log")
    result: dict[str, Any] = {"relay": kind}
    warnings = CollectWarnings()
    logging.getLogger("hang").addHandler(warnings)
    budget = CONNECT_TIMEOUT + args.warmup_timeout + args.warmup + args.duration + args.drain + 30
    deadline: asyncio.Timeout | None = None
    try:
        progress(f"{kind}: starting relay")
        await relay.start()
        progress(f"{kind}: relay pid {relay.pid} at {relay.addr} ({args.scheme}, {VERSION.label})")
        async with asyncio.timeout(budget) as deadline:
            result.update(await measure(relay, args, kind))
    except TimeoutError as exc:
        expired = deadline is not None and deadline.expired()
        result["error"] = f"run exceeded its {budget:.0f}s budget" if expired else f"TimeoutError: {exc}"
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        logging.getLogger("hang").removeHandler(warnings)
        alive = relay.returncode is None
        result["relay_exit"] = await relay.stop()
        if relay.proc is not None and not alive:
            result.setdefault("error", f"relay exited with code {result['relay_exit']} during the run")
    result["hang_warnings"] = warnings.lines[:20]
    if "error" in result:
        progress(f"{kind}: FAILED: {result['error']}")
        result["relay_log_tail"] = tail = relay.log_tail(1500)
        if tail:
            progress(f"{kind}: relay log tail:\n{tail}")
    else:
        decode = result["latency_ms"]["decoded"]
        progress(f"{kind}: to decode p50 {fmt(decode['p50'])} ms, p99 {fmt(decode['p99'])} ms "
                 f"({decode['samples']}/{result['frames_captured']} frames)")
    return result


# ---------------------------------------------------------------------------------------------------------------
# Output

COLUMNS = ("relay", "stage", "frames", "p50 ms", "p90 ms", "p99 ms", "max ms")


def fmt(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def table(results: list[dict[str, Any]]) -> str:
    rows: list[list[str]] = []
    for r in results:
        if "latency_ms" not in r:
            rows.append([r["relay"], "FAILED", "-", "-", "-", "-", "-"])
            continue
        stages = [(label, r["latency_ms"][key]) for key, label in STAGES]
        for label, s in [*stages, (HOP_LABEL, r["hop_encoded_to_received_ms"])]:
            rows.append([r["relay"], label, f"{s['samples']}/{r['frames_captured']}", fmt(s["p50"]), fmt(s["p90"]),
                         fmt(s["p99"]), fmt(s["max"])])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(COLUMNS)]
    align = [str.ljust, str.ljust] + [str.rjust] * (len(COLUMNS) - 2)
    lines = ["  ".join(a(h, w) for a, h, w in zip(align, COLUMNS, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    previous = None
    for row in rows:
        if previous is not None and row[0] != previous:
            lines.append("")
        previous = row[0]
        lines.append("  ".join(a(c, w) for a, c, w in zip(align, row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def notes(results: list[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    out = []
    interval_ms = 1000 / args.fps
    for r in results:
        tag = r["relay"]
        if "error" in r:
            out.append(f"{tag}: {r['error']}")
        if "latency_ms" not in r:
            continue
        missing = r["frames_captured"] - r["frames"]["decoded"]
        if missing:
            out.append(f"{tag}: {missing} of {r['frames_captured']} frames captured in the window were not decoded "
                       f"within {args.drain:g}s after it")
        if r["frames_captured"] < 0.95 * r["frames_captured_nominal"]:
            out.append(f"{tag}: the source produced {r['frames_captured']} of {r['frames_captured_nominal']:.0f} "
                       "nominal frames")
        lag = r["source_lag_ms"]["max"]
        if lag is not None and lag > 2 * interval_ms:
            out.append(f"{tag}: the source fell up to {lag:.0f} ms behind real time (the pipeline did not keep up; "
                       "capture times are when frames came out, so that lag is not in the latencies)")
        if r["groups_skipped_in_window"] or r["decode_errors_in_window"]:
            out.append(f"{tag}: {r['groups_skipped_in_window']} groups skipped, {r['decode_errors_in_window']} "
                       "decode errors in the window")
        if any(r["duplicates"].values()):
            out.append(f"{tag}: duplicate timestamps {r['duplicates']}")
        if r["participant_error"]:
            out.append(f"{tag}: participant error: {r['participant_error']}")
        cores = os.cpu_count() or 1
        if r["other_cpu_pct"] >= 20:
            out.append(f"{tag}: other processes used {r['other_cpu_pct']:.0f}% CPU during the window (machine "
                       f"{r['host_cpu_pct']:.0f}% of {cores * 100}%): the numbers are disturbed, run again on a "
                       "quiet machine")
        if r["host_cpu_pct"] >= 90 * cores:
            out.append(f"{tag}: the machine was saturated ({r['host_cpu_pct']:.0f}% of {cores * 100}% CPU; bench "
                       f"{r['bench_cpu_pct']:.0f}%, relay {r['relay_cpu_pct']:.0f}%)")
        elif r["bench_cpu_pct"] >= 90:
            out.append(f"{tag}: the bench process (capture, encode, decode) used {r['bench_cpu_pct']:.0f}% CPU")
        if r["hang_warnings"]:
            out.append(f"{tag}: hang logged {len(r['hang_warnings'])} warning(s), first: {r['hang_warnings'][0]}")
        if r["relay_log_alerts_in_window"]:
            out.append(f"{tag}: relay logged {len(r['relay_log_alerts_in_window'])} alert line(s) in the window, "
                       f"first: {r['relay_log_alerts_in_window'][0][:200]}")
    return out


# ---------------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--relays", default="hang,moq-rs", help="relays to compare (default hang,moq-rs)")
    parser.add_argument("--size", default="1280x720", help="test pattern size WxH (default 1280x720)")
    parser.add_argument("--fps", type=float, default=30.0, help="frames per second (default 30)")
    parser.add_argument("--bitrate", type=int, default=2_000_000, help="video bits per second (default 2000000)")
    parser.add_argument("--keyframe-interval", type=float, default=2.0, help="seconds between keyframes (default 2)")
    parser.add_argument("--codec", choices=sorted(VIDEO_ENCODERS), default="h264", help="video codec (default h264)")
    parser.add_argument("--duration", type=float, default=10.0, help="measuring window in seconds (default 10)")
    parser.add_argument("--warmup", type=float, default=3.0,
                        help="seconds between the first decoded frame and the window (default 3)")
    parser.add_argument("--warmup-timeout", type=float, default=20.0,
                        help="seconds to wait for the first decoded frame (default 20)")
    parser.add_argument("--drain", type=float, default=2.0,
                        help="seconds after the window a frame captured in it may still be decoded (default 2)")
    parser.add_argument("--scheme", choices=("https", "moql"), default="https",
                        help="https = WebTransport, moql = raw QUIC (default https)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "latency.json",
                        help="where to write the results (default bench/results/latency.json)")
    args = parser.parse_args(argv)
    args.relay_list = [x.strip() for x in args.relays.split(",") if x.strip()]
    if not args.relay_list or set(args.relay_list) - set(RELAYS):
        parser.error(f"--relays: choose from {', '.join(RELAYS)}")
    try:
        args.width, args.height = (int(part) for part in args.size.lower().split("x"))
    except ValueError:
        parser.error(f"--size wants WIDTHxHEIGHT, got {args.size!r}")
    if min(args.width, args.height) < 16 or args.width % 2 or args.height % 2:
        parser.error("--size wants even dimensions of at least 16")
    if args.fps <= 0 or args.duration <= 0 or args.bitrate <= 0 or args.keyframe_interval <= 0:
        parser.error("--fps, --duration, --bitrate and --keyframe-interval must be positive")
    if args.warmup < 0 or args.drain < 0 or args.warmup_timeout <= 0:
        parser.error("--warmup and --drain must be >= 0, --warmup-timeout > 0")
    return args


async def main_async(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    assert main_task is not None
    loop.add_signal_handler(signal.SIGTERM, main_task.cancel)
    progress(f"{args.width}x{args.height} at {args.fps:g} fps, {args.codec} {args.bitrate / 1e6:g} Mbit/s, "
             f"keyframe every {args.keyframe_interval:g}s; window {args.duration:g}s after {args.warmup:g}s warm-up; "
             f"{args.scheme} {VERSION.label}")
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="latency-") as tmp:
        for kind in args.relay_list:
            results.append(await run_case(kind, args, Path(tmp)))
    report = {
        "benchmark": "latency",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config": {
            "relays": args.relay_list, "width": args.width, "height": args.height, "fps": args.fps,
            "codec": args.codec, "encoder": VIDEO_ENCODERS[args.codec][0], "bitrate": args.bitrate,
            "keyframe_interval_s": args.keyframe_interval, "duration_s": args.duration, "warmup_s": args.warmup,
            "drain_s": args.drain, "warmup_timeout_s": args.warmup_timeout, "scheme": args.scheme,
            "version": VERSION.label, "playout_delay_s": PLAYOUT_DELAY, "broadcast": BROADCAST,
            "clock": "time.monotonic() in one process",
        },
        "host": {
            "cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "packages": versions_of("hang", "aioquic", "av", "moq-rs", "moq-ffi"), "git": git_describe(),
        },
        "results": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"glass-to-glass latency: {args.width}x{args.height}@{args.fps:g} {args.codec} "
          f"{args.bitrate / 1e6:g} Mbit/s test pattern, {args.duration:g}s window, {args.scheme} {VERSION.label}, "
          f"playout delay {PLAYOUT_DELAY * 1000:.0f} ms, {os.cpu_count()} CPUs")
    print(table(results))
    for line in notes(results, args):
        print(f"note: {line}")
    print(f"results: {args.json}")
    return 1 if any("error" in r for r in results) else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    try:
        return asyncio.run(main_async(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        progress("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
