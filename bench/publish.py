#!/usr/bin/env python3
"""Publishing benchmark: ``hang publish`` against PyAV alone, side by side, on loopback.

Two measurements, each with its PyAV-only baseline run in the same invocation:

1. Live capture + encode + publish (a 720p30 camera-style pipeline). ``hang publish --camera SRC
   --input-format lavfi`` runs as a subprocess against a ``hang relay`` subprocess, and this process
   subscribes to the ``video`` track so that the media really flows. After the first frame arrives
   and a warm-up, the publisher's CPU time (utime + stime, all threads, from /proc) is read over a
   window, next to the frames and bytes the subscriber received. The baseline is a subprocess that
   opens the same lavfi source with PyAV and encodes it with the settings ``hang`` uses (libx264,
   ``VIDEO_ENCODERS["h264"]``, yuv420p, same bitrate, GOP and forced keyframes), for the same window.
   Two sources by default: ``testsrc2=...,realtime`` (paced at 30 fps like a camera) and the bare
   ``testsrc2=...`` (lavfi does not pace it: both pipelines then run flat out).

2. File remux with ``--fast``. For each sample file, ``hang publish --file F --fast`` runs N times
   against the relay while this process subscribes to every track of the broadcast; each pass is
   timed from spawn to exit, and media seconds / wall seconds is the rate. ``hang publish --file F
   --fast --loop`` then runs for a window to get the steady-state rate without process startup (the
   publisher's own progress line gives its remux rate; the subscriber gives the delivered rate).
   Baselines: PyAV demuxing the same file N times in one process, and once per fresh process. A
   longer sample (``--file-seconds``, same settings as ``samples/make_samples.py``'s h264-aac entry)
   is generated into ``bench/results/`` so that the per-pass rate is not all startup.

Usage::

    python bench/publish.py [--window 10] [--warmup 3] [--live-sources paced,unpaced] [--size 1280x720]
        [--fps 30] [--bitrate 2000000] [--file-passes 5] [--file-seconds 30] [--file-window 5]
        [--json bench/results/publish.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from common import cpu_seconds, git_describe, progress, versions_of
from common import die_with_parent as _die_with_parent

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "h264-aac.mp4"
MAKE_SAMPLES = ROOT / "samples" / "make_samples.py"
RESULTS = ROOT / "bench" / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PREFIX = "bench"
CAM_BROADCAST = "bench/cam.hang"
LIVE_SOURCES = ("paced", "unpaced")
#: The lines of a publisher or relay log worth reporting.
LOG_ALERT = re.compile(r"(?i)\b(warn|warning|error|traceback|exception)\b")
#: ``hang publish`` progress line (logged when stderr is not a terminal), e.g. ``x 42.0`` at the end.
PROGRESS_LINE = re.compile(r":\s+([\d.]+) s(?: / [\d.]+ s)?\s+([\d.]+) Mbit/s\s+x\s*([\d.]+)")

#: Bounds (seconds) that keep every run finite.
RELAY_START_TIMEOUT = 20.0
CONNECT_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0
FILE_PASS_TIMEOUT = 60.0
#: Seconds the subscriber may still read after a file publisher exited.
FILE_DRAIN = 3.0


def proc_status(pid: int | str) -> dict[str, float | None]:
    """RSS (MiB) and thread count of a process (None if it is gone)."""
    out: dict[str, float | None] = {"rss_mib": None, "threads": None}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    out["rss_mib"] = round(int(line.split()[1]) / 1024, 1)
                elif line.startswith("Threads:"):
                    out["threads"] = int(line.split()[1])
    except OSError:
        pass
    return out


class HostLoad:
    """CPU the rest of the host used meanwhile: all busy CPU time (/proc/stat) minus this process and its
    reaped children (every process a case starts is reaped by the time the case returns)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.busy0 = self.busy()
        self.ours0 = self.ours()

    @staticmethod
    def busy() -> float:
        with open("/proc/stat") as f:
            values = [int(x) for x in f.readline().split()[1:9]]
        user, nice, system, _idle, _iowait, irq, softirq, steal = values
        return (user + nice + system + irq + softirq + steal) / CLK_TCK

    @staticmethod
    def ours() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def other_cpu_s_per_s(self) -> float:
        elapsed = max(1e-6, time.perf_counter() - self.start)
        return max(0.0, (self.busy() - self.busy0) - (self.ours() - self.ours0)) / elapsed


def log_alerts(path: Path, limit: int = 10) -> list[str]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if LOG_ALERT.search(line)][:limit]


def log_tail(path: Path, chars: int = 1500) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------------------------------
# Processes: the relay, and children timed with wait4 (so their whole-life CPU time is known)


class Relay:
    """``hang relay --listen 127.0.0.1:0`` in its own subprocess."""

    def __init__(self, logdir: Path, tag: str) -> None:
        self.logpath = logdir / f"relay-{tag}.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""
        self.fingerprint = ""
        self._drain: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self) -> None:
        with open(self.logpath, "wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "hang", "relay", "--listen", "127.0.0.1:0", cwd=ROOT,
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=log,
                preexec_fn=_die_with_parent)
        assert self.proc.stdout is not None
        try:
            async with asyncio.timeout(RELAY_START_TIMEOUT):
                while True:
                    line = (await self.proc.stdout.readline()).decode(errors="replace")
                    if not line:
                        code = await self.proc.wait()
                        raise RuntimeError(f"relay exited ({code}) before it was ready\n{log_tail(self.logpath)}")
                    match = re.search(r"relay ready: https://[^/]*:(\d+)/ \(pin ([0-9a-f]{64})\)", line)
                    if match:
                        self.url, self.fingerprint = f"https://127.0.0.1:{match[1]}/", match[2]
                        break
        except TimeoutError:
            raise RuntimeError(f"relay not ready after {RELAY_START_TIMEOUT:.0f}s\n{log_tail(self.logpath)}") from None
        self._drain = asyncio.ensure_future(self._drain_stdout())

    async def _drain_stdout(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while await self.proc.stdout.readline():
            pass

    def config(self) -> Any:
        import hang

        return hang.ClientConfig(fingerprints=[self.fingerprint], timeout=CONNECT_TIMEOUT)

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    async def stop(self) -> int | None:
        proc = self.proc
        if proc is None:
            return None
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._drain is not None:
            self._drain.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._drain
        return proc.returncode


class Child:
    """A subprocess reaped with ``wait4``: exit code, wall time and whole-life CPU time (rusage)."""

    def __init__(self, argv: list[str], logpath: Path, *, stdout: int | None = None) -> None:
        self.argv = argv
        self.logpath = logpath
        with open(logpath, "wb") as log:
            self.started = time.perf_counter()
            # Spawned from the event loop's thread: PR_SET_PDEATHSIG follows the thread that forked.
            self.popen = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL,
                                          stdout=stdout if stdout is not None else log, stderr=log,
                                          preexec_fn=_die_with_parent)
        self.pid = self.popen.pid
        self.ended: float | None = None
        self.rusage_cpu: float | None = None
        self.returncode: int | None = None
        self._reaper = asyncio.ensure_future(asyncio.to_thread(self._reap))

    def _reap(self) -> None:
        _, status, usage = os.wait4(self.pid, 0)
        self.ended = time.perf_counter()
        self.rusage_cpu = usage.ru_utime + usage.ru_stime
        self.returncode = self.popen.returncode = os.waitstatus_to_exitcode(status)

    @property
    def alive(self) -> bool:
        return not self._reaper.done()

    @property
    def wall(self) -> float | None:
        return None if self.ended is None else self.ended - self.started

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    async def wait(self, timeout: float | None = None) -> int | None:
        """The exit code; TimeoutError (the child keeps running) after ``timeout`` seconds."""
        await asyncio.wait_for(asyncio.shield(self._reaper), timeout)
        return self.returncode

    async def stop(self, sig: int = signal.SIGINT) -> int | None:
        """``sig`` (hang stops cleanly on SIGINT), then SIGKILL after a grace period; the exit code."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)
            try:
                await self.wait(STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                await self.wait(STOP_TIMEOUT)
        return self.returncode


def publish_argv(relay: Relay, name: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "hang", "publish", relay.url, "--tls-fingerprint", relay.fingerprint,
            "--name", name, *extra]


# ---------------------------------------------------------------------------------------------------------------
# Subscriber (this process): count every frame of a track


@dataclass
class TrackStats:
    name: str
    #: (receive perf_counter_ns, media timestamp us, payload bytes) per frame.
    arrivals: list[tuple[int, int, int]] = field(default_factory=list)
    first_frame: asyncio.Event = field(default_factory=asyncio.Event)
    subscribed_ns: int | None = None
    aborted_groups: int = 0
    #: Groups still open (neither finished nor aborted) when reading stopped.
    unfinished_groups: int = 0
    ended: bool = False
    error: str | None = None

    def window(self, start_ns: int, end_ns: int) -> list[tuple[int, int, int]]:
        return [a for a in self.arrivals if start_ns <= a[0] < end_ns]


async def read_track(session: Any, path: str, stats: TrackStats, subscribe_deadline: float) -> None:
    """Subscribe (retrying while the track does not exist yet) and record every frame until the track ends."""
    import hang
    from hang.media.container import decode_frame

    try:
        while True:
            try:
                consumer = await session.subscribe(path, stats.name)
                break
            except hang.NotFound:
                if time.perf_counter() > subscribe_deadline:
                    raise
                await asyncio.sleep(0.02)
        stats.subscribed_ns = time.perf_counter_ns()
        tasks: set[asyncio.Task[None]] = set()

        async def read_group(group: Any) -> None:
            try:
                while (frame := await group.read_frame()) is not None:
                    now = time.perf_counter_ns()
                    timestamp, _ = decode_frame(frame.payload)
                    stats.arrivals.append((now, timestamp, len(frame.payload)))
                    stats.first_frame.set()
            except hang.HangError:
                stats.aborted_groups += 1

        try:
            # One task per group, like a player that never blocks a newer group behind an older one.
            while (group := await consumer.next_group()) is not None:
                task = asyncio.ensure_future(read_group(group))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.wait(set(tasks), timeout=FILE_DRAIN)
            stats.ended = True
        finally:
            stats.unfinished_groups += sum(not task.done() for task in tasks)
            for task in tasks:
                task.cancel()
            consumer.close()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        stats.error = f"{type(exc).__name__}: {exc}"


class NeverAnnounced(RuntimeError):
    """The publisher exited without its broadcast ever being announced."""


class AnnounceWatch:
    """Announcements under ``bench/`` as they come: when each broadcast became active and ended."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.active: dict[str, int] = {}
        self.ended: dict[str, int] = {}
        self.changed = asyncio.Event()
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        announcements = self.session.announced(PREFIX)
        try:
            async for item in announcements:
                (self.active if item.active else self.ended)[item.path] = time.perf_counter_ns()
                self.changed.set()
                self.changed = asyncio.Event()
        finally:
            await announcements.aclose()

    async def wait_active(self, path: str, timeout: float, child: Child | None = None) -> int:
        async with asyncio.timeout(timeout):
            while path not in self.active:
                if child is not None and not child.alive and path not in self.active:
                    await asyncio.sleep(0.3)  # an announce and unannounce may still be on their way
                    if path not in self.active:
                        raise NeverAnnounced(f"publisher exited ({child.returncode}) before {path} was announced")
                if self._task.done():
                    raise RuntimeError(f"announcement stream ended: {self._task.exception()!r}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), 0.1)
        return self.active[path]

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


# ---------------------------------------------------------------------------------------------------------------
# Workers (subprocesses of this script): PyAV alone


def encode_worker(params: dict[str, Any]) -> dict[str, Any]:
    """Open the lavfi source with PyAV and encode it the way hang's VideoEncoder does; measure a window."""
    import av

    from hang.media.encode import VIDEO_ENCODERS

    name, options = VIDEO_ENCODERS["h264"]
    container = av.open(params["source"], format="lavfi")
    stream = container.streams.video[0]
    context: Any = None
    keyframe_us = params["keyframe_interval"] * 1_000_000
    last_key: int | None = None
    start = time.monotonic()
    deadline = start + params["first_timeout"]
    packets = 0
    size = 0
    frames_in = 0
    first: float | None = None
    snap0: tuple[float, float, int, int, int] | None = None
    out: dict[str, Any] = {}
    for frame in container.decode(stream):
        now = time.monotonic()
        frames_in += 1
        if context is None:  # as VideoEncoder._open
            context = av.CodecContext.create(name, "w")
            context.width, context.height = frame.width, frame.height
            context.pix_fmt = "yuv420p"
            context.time_base = Fraction(1, 1_000_000)
            context.framerate = Fraction(params["fps"]).limit_denominator(1001)
            context.bit_rate = params["bitrate"]
            context.gop_size = max(1, round(params["fps"] * params["keyframe_interval"]))
            context.max_b_frames = 0
            context.options = dict(options)
            context.open()
        if frame.format.name != "yuv420p":
            frame = frame.reformat(format="yuv420p")
        pts = int((now - start) * 1_000_000)  # as DeviceVideoSource: capture time in microseconds
        frame.pts = pts
        frame.time_base = Fraction(1, 1_000_000)
        if last_key is None or pts - last_key >= keyframe_us:
            frame.pict_type = av.video.frame.PictureType.I
        for packet in context.encode(frame):
            packets += 1
            size += packet.size
            if packet.is_keyframe:
                last_key = packet.pts
        if first is None and packets:
            first = now
            deadline = now + params["warmup"] + params["window"] + 5
        if first is not None and snap0 is None and now >= first + params["warmup"]:
            snap0 = (time.perf_counter(), cpu_seconds("self"), packets, size, frames_in)
        if snap0 is not None and time.perf_counter() >= snap0[0] + params["window"]:
            t1, cpu1 = time.perf_counter(), cpu_seconds("self")
            out = {"window_s": t1 - snap0[0], "cpu_s": cpu1 - snap0[1], "packets": packets - snap0[2],
                   "bytes": size - snap0[3], "frames_in": frames_in - snap0[4],
                   "first_packet_s": first - start, "width": frame.width, "height": frame.height,
                   **proc_status("self")}
            break
        if now > deadline:
            out = {"error": f"no complete window before the deadline ({packets} packets)"}
            break
    else:
        out = {"error": f"source ended after {frames_in} frames"}
    container.close()
    return out


def demux_worker(params: dict[str, Any]) -> dict[str, Any]:
    """Demux a file ``passes`` times with PyAV (open once, seek to 0 per pass, as hang's --loop does)."""
    import av

    t0, cpu0 = time.perf_counter(), cpu_seconds("self")
    packets = 0
    size = 0
    with av.open(params["path"]) as container:
        streams = list(container.streams.video[:1]) + list(container.streams.audio[:1])
        for _ in range(params["passes"]):
            container.seek(0)
            for packet in container.demux(*streams):
                if packet.size and packet.pts is not None:
                    packets += 1
                    size += len(bytes(packet))  # hang copies every payload out of the packet too
    return {"wall_s": time.perf_counter() - t0, "cpu_s": cpu_seconds("self") - cpu0, "packets": packets,
            "bytes": size}


def run_worker(kind: str, params_json: str) -> int:
    params = json.loads(params_json)
    try:
        result = encode_worker(params) if kind == "pyav-encode" else demux_worker(params)
    except Exception as exc:
        result = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(result), flush=True)
    return 0 if "error" not in result else 1


def worker_argv(kind: str, params: dict[str, Any]) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--worker-params", json.dumps(params)]


async def run_worker_child(kind: str, params: dict[str, Any], logpath: Path, timeout: float
                           ) -> tuple[dict[str, Any], Child]:
    out_path = logpath.with_suffix(".out")
    with open(out_path, "wb") as out:
        child = Child(worker_argv(kind, params), logpath, stdout=out.fileno())
    try:
        await child.wait(timeout)
    except TimeoutError:
        await child.stop(signal.SIGKILL)
        return {"error": f"worker did not finish within {timeout:.0f}s"}, child
    lines = out_path.read_text(errors="replace").strip().splitlines()
    try:
        return json.loads(lines[-1]), child
    except (IndexError, ValueError):
        return {"error": f"worker exited {child.returncode} without a result\n{log_tail(logpath)}"}, child


# ---------------------------------------------------------------------------------------------------------------
# 1. Live: camera-style capture + encode (+ publish)


def live_source(args: argparse.Namespace, kind: str) -> str:
    base = f"testsrc2=size={args.size}:rate={args.fps:g}"
    return f"{base},realtime" if kind == "paced" else base


async def live_hang(args: argparse.Namespace, kind: str, logdir: Path, subscribe: bool = True) -> dict[str, Any]:
    """``hang publish --camera SRC --input-format lavfi`` with one subscriber (or none: then no media leaves)."""
    import hang

    source = live_source(args, kind)
    result: dict[str, Any] = {"case": "hang publish" if subscribe else "hang publish, no subscriber",
                              "source_kind": kind, "source": source, "subscribed": subscribe}
    tag = f"live-{kind}" + ("" if subscribe else "-nosub")
    relay = Relay(logdir, tag)
    publisher: Child | None = None
    budget = RELAY_START_TIMEOUT + CONNECT_TIMEOUT + args.warmup_timeout + args.warmup + args.window + 20
    try:
        await relay.start()
        publisher = Child(publish_argv(relay, CAM_BROADCAST, "--camera", source, "--input-format", "lavfi",
                                       "--size", args.size, "--fps", f"{args.fps:g}", "--bitrate", str(args.bitrate),
                                       "--keyframe-interval", f"{args.keyframe_interval:g}", "--no-progress"),
                          logdir / f"publish-{tag}.log")
        result["command"] = " ".join(publisher.argv[1:])
        progress(f"live {kind}: relay pid {relay.pid}, hang publish pid {publisher.pid}: {source}"
                 + ("" if subscribe else " (no subscriber)"))
        async with asyncio.timeout(budget), hang.connect(relay.url, relay.config()) as session:
            watch = AnnounceWatch(session)
            try:
                announced_ns = await watch.wait_active(CAM_BROADCAST, args.warmup_timeout, publisher)
                result["announced_s"] = round(announced_ns / 1e9 - publisher.started, 3)
                video = TrackStats("video")
                reader = asyncio.ensure_future(read_track(session, CAM_BROADCAST, video,
                                                          time.perf_counter() + args.warmup_timeout)
                                               if subscribe else asyncio.sleep(0))
                try:
                    if subscribe:
                        try:
                            async with asyncio.timeout(args.warmup_timeout):
                                await video.first_frame.wait()
                        except TimeoutError:
                            raise RuntimeError(f"no video frame within {args.warmup_timeout:.0f}s "
                                               f"({video.error or 'no error'})") from None
                        result["first_frame_s"] = round((video.arrivals[0][0] / 1e9) - publisher.started, 3)
                        progress(f"live {kind}: first frame {result['first_frame_s']:.2f}s after spawn; "
                                 f"warm-up {args.warmup:g}s, window {args.window:g}s")
                    else:
                        await asyncio.sleep(1.0)  # the encoder opens with the first captured frame
                    await asyncio.sleep(args.warmup)
                    pub0, relay0, self0 = publisher.cpu(), relay.cpu(), cpu_seconds("self")
                    start_ns = time.perf_counter_ns()
                    await asyncio.sleep(args.window)
                    end_ns = time.perf_counter_ns()
                    if not publisher.alive:
                        raise RuntimeError(f"hang publish exited ({publisher.returncode}) during the window")
                    pub1, relay1, self1 = publisher.cpu(), relay.cpu(), cpu_seconds("self")
                    status = proc_status(publisher.pid)
                finally:
                    reader.cancel()
                    await asyncio.gather(reader, return_exceptions=True)
            finally:
                await watch.close()
        seconds = (end_ns - start_ns) / 1e9
        frames = video.window(start_ns, end_ns)
        timestamps = [t for _, t, _ in frames]
        # Without a subscriber nothing counts the frames: use the nominal rate (the source is paced).
        count = len(frames) if subscribe else (seconds * args.fps if kind == "paced" else 0)
        result.update({
            "window_s": round(seconds, 3),
            "cpu_s": round(pub1 - pub0, 3),
            "cpu_s_per_s": (pub1 - pub0) / seconds,
            "frames": len(frames) if subscribe else None,
            "fps": len(frames) / seconds if subscribe else None,
            "mbps": sum(s for _, _, s in frames) * 8 / seconds / 1e6 if subscribe else None,
            "cpu_ms_per_frame": 1000 * (pub1 - pub0) / count if count else None,
            "cpu_ms_per_frame_nominal": not subscribe,
            "media_s_per_s": (max(timestamps) - min(timestamps)) / 1e6 / seconds if len(timestamps) > 1 else None,
            "relay_cpu_s_per_s": (relay1 - relay0) / seconds,
            "subscriber_cpu_s_per_s": (self1 - self0) / seconds,
            "publisher_rss_mib": status["rss_mib"],
            "publisher_threads": status["threads"],
            "aborted_groups": video.aborted_groups,
            "subscriber_error": video.error,
        })
    except TimeoutError:
        result["error"] = f"run exceeded its {budget:.0f}s budget"
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        if publisher is not None:
            result["publisher_exit"] = await publisher.stop()
            result["publisher_log_alerts"] = log_alerts(publisher.logpath)
            if "error" in result:
                result["publisher_log_tail"] = log_tail(publisher.logpath)
        result["relay_exit"] = await relay.stop()
        result["relay_log_alerts"] = log_alerts(relay.logpath)
        result["relay_sessions_closed"] = [line for line in log_tail(relay.logpath, 20000).splitlines()
                                           if "session closed" in line]
    return result


async def live_pyav(args: argparse.Namespace, kind: str, logdir: Path) -> dict[str, Any]:
    source = live_source(args, kind)
    params = {"source": source, "warmup": args.warmup, "window": args.window, "fps": args.fps,
              "bitrate": args.bitrate, "keyframe_interval": args.keyframe_interval,
              "first_timeout": args.warmup_timeout}
    progress(f"live {kind}: PyAV alone: {source}")
    out, child = await run_worker_child("pyav-encode", params, logdir / f"pyav-encode-{kind}.log",
                                        args.warmup_timeout + args.warmup + args.window + 20)
    result: dict[str, Any] = {"case": "PyAV alone", "source_kind": kind, "source": source,
                              "command": "libx264 " + json.dumps(params)}
    if "error" in out:
        result["error"] = out["error"]
        return result
    seconds = out["window_s"]
    result.update({
        "window_s": round(seconds, 3),
        "cpu_s": round(out["cpu_s"], 3),
        "cpu_s_per_s": out["cpu_s"] / seconds,
        "frames": out["packets"],
        "fps": out["packets"] / seconds,
        "source_fps": out["frames_in"] / seconds,
        "mbps": out["bytes"] * 8 / seconds / 1e6,
        "cpu_ms_per_frame": 1000 * out["cpu_s"] / out["packets"] if out["packets"] else None,
        "first_packet_s": round(out["first_packet_s"], 3),
        "publisher_rss_mib": out.get("rss_mib"),
        "publisher_threads": out.get("threads"),
        "worker_exit": child.returncode,
    })
    return result


# ---------------------------------------------------------------------------------------------------------------
# 2. Files: remux with --fast


@dataclass
class MediaFile:
    path: Path
    duration_s: float
    packets: dict[str, int]
    fps: float

    @property
    def label(self) -> str:
        try:
            return str(self.path.relative_to(ROOT))
        except ValueError:
            return str(self.path)


def probe(path: Path) -> MediaFile:
    """Duration and the packets hang would publish (non-empty, with a pts) per stream kind."""
    import av

    counts = {"video": 0, "audio": 0}
    with av.open(str(path)) as container:
        duration = container.duration / av.time_base if container.duration else 0.0
        video = container.streams.video[0] if container.streams.video else None
        fps = float(video.average_rate) if video is not None and video.average_rate else 0.0
        for packet in container.demux():
            if packet.size and packet.pts is not None and packet.stream.type in counts:
                counts[packet.stream.type] += 1
    return MediaFile(path, duration, counts, fps)


def long_sample(seconds: int) -> Path:
    """``samples/make_samples.py``'s h264-aac.mp4 recipe, ``seconds`` long, under bench/results/ (cached)."""
    target = RESULTS / f"h264-aac-{seconds}s.mp4"
    if target.exists():
        return target
    progress(f"making {target.relative_to(ROOT)} ({seconds}s, the h264-aac.mp4 recipe)")
    spec = importlib.util.spec_from_file_location("make_samples", MAKE_SAMPLES)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.SECONDS = seconds  # make() reads the module constant for the length
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial.mp4")
    module.make(partial, *module.SAMPLES["h264-aac.mp4"])
    partial.rename(target)
    return target


async def file_passes(args: argparse.Namespace, media: MediaFile, logdir: Path, tag: str) -> dict[str, Any]:
    """``hang publish --file F --fast`` ``passes`` times, each timed from spawn to exit, with a subscriber."""
    import hang

    result: dict[str, Any] = {"case": "hang publish --fast", "file": media.label, "passes": [],
                              "runs": f"{args.file_passes} processes"}
    relay = Relay(logdir, f"file-{tag}")
    try:
        await relay.start()
        async with hang.connect(relay.url, relay.config()) as session:
            watch = AnnounceWatch(session)
            try:
                await asyncio.sleep(0.2)  # let the announce request reach the relay
                for index in range(args.file_passes):
                    result["passes"].append(await one_pass(args, media, relay, session, watch, logdir,
                                                           f"{tag}-{index}"))
                    last = result["passes"][-1]
                    if "error" in last:
                        result["error"] = f"pass {index}: {last['error']}"
                        break
                    progress(f"file {media.label}: pass {index + 1}/{args.file_passes}: {last['wall_s']:.2f}s wall, "
                             f"{last['cpu_s']:.2f}s CPU, {last['frames_received']}/{last['frames_in_file']} frames "
                             f"received")
            finally:
                await watch.close()
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        result["relay_exit"] = await relay.stop()
        result["relay_log_alerts"] = log_alerts(relay.logpath)
    passes = [p for p in result["passes"] if "error" not in p]
    if passes:
        wall = sum(p["wall_s"] for p in passes)
        frames_in_file = sum(media.packets.values())
        result.update({
            "media_s": media.duration_s * len(passes),
            "wall_s": wall,
            "x_real_time": media.duration_s * len(passes) / wall,
            "cpu_s": sum(p["cpu_s"] for p in passes),
            "delivered": sum(p["frames_received"] for p in passes) / (frames_in_file * len(passes)),
            "never_announced": sum(p["announced_s"] is None for p in passes),
            "announce_after_spawn_s_median": median([p["announced_s"] for p in passes if p["announced_s"] is not None]),
            "exit_after_announce_s_median": median([p["wall_s"] - p["announced_s"] for p in passes
                                                    if p["announced_s"] is not None]),
        })
    return result


async def one_pass(args: argparse.Namespace, media: MediaFile, relay: Relay, session: Any, watch: AnnounceWatch,
                   logdir: Path, tag: str) -> dict[str, Any]:
    name = f"{PREFIX}/file-{tag}.hang"
    child = Child(publish_argv(relay, name, "--file", str(media.path), "--fast", "--no-progress"),
                  logdir / f"publish-file-{tag}.log")
    out: dict[str, Any] = {"name": name}
    tracks = {kind: TrackStats(kind) for kind, count in media.packets.items() if count}
    readers: list[asyncio.Task[None]] = []
    try:
        spawn_ns = int(child.started * 1e9)
        announced_ns: int | None = None
        try:
            announced_ns = await watch.wait_active(name, FILE_PASS_TIMEOUT, child)
        except NeverAnnounced:
            pass  # hang publish read the whole file before it connected: it never published (counted as 0 frames)
        else:
            readers = [asyncio.ensure_future(read_track(session, name, stats,
                                                        time.perf_counter() + FILE_PASS_TIMEOUT))
                       for stats in tracks.values()]
        await child.wait(FILE_PASS_TIMEOUT)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*readers, return_exceptions=True), FILE_DRAIN)
        assert child.wall is not None and child.rusage_cpu is not None
        arrivals = sorted(a for stats in tracks.values() for a in stats.arrivals)
        out.update({
            "exit": child.returncode,
            "wall_s": child.wall,
            "cpu_s": child.rusage_cpu,
            "announced_s": None if announced_ns is None else (announced_ns - spawn_ns) / 1e9,
            "frames_in_file": sum(media.packets.values()),
            "frames_received": len(arrivals),
            "per_track": {k: {"received": len(s.arrivals), "in_file": media.packets[k],
                              "first_ts_s": min((t for _, t, _ in s.arrivals), default=0) / 1e6 if s.arrivals else None,
                              "last_ts_s": max((t for _, t, _ in s.arrivals), default=0) / 1e6 if s.arrivals else None,
                              "subscribed": s.subscribed_ns is not None, "ended": s.ended,
                              "aborted_groups": s.aborted_groups,
                              "unfinished_groups": s.unfinished_groups, "error": s.error}
                          for k, s in tracks.items()},
            "first_frame_s": (arrivals[0][0] - spawn_ns) / 1e9 if arrivals else None,
            "last_frame_s": (arrivals[-1][0] - spawn_ns) / 1e9 if arrivals else None,
            "log_alerts": log_alerts(child.logpath),
        })
        if child.returncode != 0:
            out["error"] = f"hang publish exited {child.returncode}\n{log_tail(child.logpath)}"
    except TimeoutError:
        out["error"] = f"pass exceeded {FILE_PASS_TIMEOUT:.0f}s"
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await child.stop(signal.SIGKILL)
    return out


async def file_loop(args: argparse.Namespace, media: MediaFile, logdir: Path) -> dict[str, Any]:
    """``hang publish --file F --fast --loop``: steady state over a window, without process startup."""
    import hang

    name = f"{PREFIX}/loop.hang"
    result: dict[str, Any] = {"case": "hang publish --fast --loop", "file": media.label, "runs": "1 process"}
    relay = Relay(logdir, "file-loop")
    publisher: Child | None = None
    budget = RELAY_START_TIMEOUT + CONNECT_TIMEOUT + args.warmup_timeout + 1 + args.file_window + 20
    try:
        await relay.start()
        # No --no-progress: with stderr not a terminal, the progress line (position, x rate) goes to the log.
        publisher = Child(publish_argv(relay, name, "--file", str(media.path), "--fast", "--loop"),
                          logdir / "publish-file-loop.log")
        result["command"] = " ".join(publisher.argv[1:])
        progress(f"file loop {media.label}: window {args.file_window:g}s")
        async with asyncio.timeout(budget), hang.connect(relay.url, relay.config()) as session:
            watch = AnnounceWatch(session)
            tracks = {kind: TrackStats(kind) for kind, count in media.packets.items() if count}
            readers: list[asyncio.Task[None]] = []
            try:
                await watch.wait_active(name, args.warmup_timeout, publisher)
                readers = [asyncio.ensure_future(read_track(session, name, stats,
                                                            time.perf_counter() + args.warmup_timeout))
                           for stats in tracks.values()]
                async with asyncio.timeout(args.warmup_timeout):
                    await tracks["video"].first_frame.wait()
                await asyncio.sleep(1.0)
                pub0, relay0, self0 = publisher.cpu(), relay.cpu(), cpu_seconds("self")
                start_ns = time.perf_counter_ns()
                await asyncio.sleep(args.file_window)
                end_ns = time.perf_counter_ns()
                if not publisher.alive:
                    raise RuntimeError(f"hang publish exited ({publisher.returncode}) during the window")
                pub1, relay1, self1 = publisher.cpu(), relay.cpu(), cpu_seconds("self")
                status = proc_status(publisher.pid)
            finally:
                for reader in readers:
                    reader.cancel()
                await asyncio.gather(*readers, return_exceptions=True)
                await watch.close()
        seconds = (end_ns - start_ns) / 1e9
        per_track: dict[str, Any] = {}
        for kind, stats in tracks.items():
            frames = stats.window(start_ns, end_ns)
            stamps = [t for _, t, _ in frames]
            span = (max(stamps) - min(stamps)) / 1e6 if len(stamps) > 1 else 0.0
            per_track[kind] = {"frames": len(frames), "media_span_s": span,
                               "mbps": sum(s for _, _, s in frames) * 8 / seconds / 1e6,
                               "last_ts_s": max((t for _, t, _ in stats.arrivals), default=0) / 1e6,
                               "aborted_groups": stats.aborted_groups, "error": stats.error}
        video = per_track["video"]
        expected = video["media_span_s"] * media.fps
        result.update({
            "window_s": round(seconds, 3),
            "cpu_s_per_s": (pub1 - pub0) / seconds,
            "relay_cpu_s_per_s": (relay1 - relay0) / seconds,
            "subscriber_cpu_s_per_s": (self1 - self0) / seconds,
            "delivered_x_real_time": video["media_span_s"] / seconds,
            "delivered": video["frames"] / expected if expected else None,
            "per_track": per_track,
            "publisher_rss_mib": status["rss_mib"],
        })
    except TimeoutError:
        result["error"] = f"run exceeded its {budget:.0f}s budget"
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        if publisher is not None:
            result["publisher_exit"] = await publisher.stop()
            result["publisher_wall_s"] = publisher.wall
            result["publisher_cpu_s"] = publisher.rusage_cpu
            result["publisher_log_alerts"] = log_alerts(publisher.logpath)
            lines = [m for m in PROGRESS_LINE.finditer(log_tail(publisher.logpath, 4000))]
            if lines:
                # The publisher's own count: media seconds read / seconds since it started reading.
                position, _, rate = (float(x) for x in lines[-1].groups())
                result["publisher_media_s"] = position
                result["x_real_time"] = rate
                result["publisher_read_s"] = position / rate if rate else None
            if "error" in result:
                result["publisher_log_tail"] = log_tail(publisher.logpath)
        result["relay_exit"] = await relay.stop()
        result["relay_log_alerts"] = log_alerts(relay.logpath)
    return result


async def file_pyav(args: argparse.Namespace, media: MediaFile, logdir: Path, tag: str) -> list[dict[str, Any]]:
    """PyAV alone: N passes in one process, and one fresh process per pass (spawn to exit)."""
    params = {"path": str(media.path), "passes": args.file_passes}
    out, _ = await run_worker_child("pyav-demux", params, logdir / f"pyav-demux-{tag}.log", FILE_PASS_TIMEOUT)
    one: dict[str, Any] = {"case": "PyAV demux", "file": media.label, "runs": f"{args.file_passes} in 1 process"}
    if "error" in out:
        one["error"] = out["error"]
    else:
        one.update({"media_s": media.duration_s * args.file_passes, "wall_s": out["wall_s"],
                    "x_real_time": media.duration_s * args.file_passes / out["wall_s"], "cpu_s": out["cpu_s"],
                    "packets_per_s": out["packets"] / out["wall_s"], "packets": out["packets"],
                    "bytes": out["bytes"]})
    fresh: dict[str, Any] = {"case": "PyAV demux", "file": media.label, "runs": f"{args.file_passes} processes"}
    walls: list[float] = []
    cpus: list[float] = []
    for index in range(args.file_passes):
        out, child = await run_worker_child("pyav-demux", {"path": str(media.path), "passes": 1},
                                            logdir / f"pyav-demux-{tag}-{index}.log", FILE_PASS_TIMEOUT)
        if "error" in out or child.wall is None or child.rusage_cpu is None:
            fresh["error"] = out.get("error", "worker failed")
            break
        walls.append(child.wall)
        cpus.append(child.rusage_cpu)
    if walls:
        fresh.update({"media_s": media.duration_s * len(walls), "wall_s": sum(walls),
                      "x_real_time": media.duration_s * len(walls) / sum(walls), "cpu_s": sum(cpus)})
    return [one, fresh]


async def startup_cost(logdir: Path, runs: int = 3) -> dict[str, Any]:
    """``python -m hang publish --help`` spawn to exit: interpreter start plus hang's imports."""
    walls: list[float] = []
    cpus: list[float] = []
    for index in range(runs):
        child = Child([sys.executable, "-m", "hang", "publish", "--help"], logdir / f"startup-{index}.log")
        await child.wait(FILE_PASS_TIMEOUT)
        if child.wall is not None and child.rusage_cpu is not None:
            walls.append(child.wall)
            cpus.append(child.rusage_cpu)
    return {"case": "hang publish --help (startup)", "wall_s_median": statistics.median(walls) if walls else None,
            "cpu_s_median": statistics.median(cpus) if cpus else None, "runs": len(walls)}


# ---------------------------------------------------------------------------------------------------------------
# Output


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def exit_text(code: int) -> str:
    """``-11 (SIGSEGV)`` for a signal, the number otherwise."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"{code} ({signal.Signals(-code).name})"
    return str(code)


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def render(header: tuple[str, ...], rows: list[list[str]], left: int = 1) -> str:
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]

    def line(cells: list[str] | tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths,
                                                                                              strict=True)))

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


LIVE_COLUMNS = ("case", "source", "fps", "Mbit/s", "CPU s/s", "CPU ms/frame", "vs PyAV", "relay CPU s/s",
                "host other s/s")


def live_table(results: list[dict[str, Any]]) -> str:
    rows = []
    baseline = {r["source_kind"]: r for r in results if r["case"] == "PyAV alone" and "error" not in r}
    for r in results:
        if "error" in r:
            rows.append([r["case"], r["source_kind"], "FAILED", "-", "-", "-", "-", "-",
                         fmt(r.get("host_other_cpu_s_per_s"), ".2f")])
            continue
        base = baseline.get(r["source_kind"])
        ratio = None
        if r["case"] != "PyAV alone" and base and base.get("cpu_ms_per_frame") and r.get("cpu_ms_per_frame"):
            ratio = r["cpu_ms_per_frame"] / base["cpu_ms_per_frame"]
        rows.append([r["case"], r["source_kind"], fmt(r.get("fps"), ".1f"), fmt(r.get("mbps"), ".2f"),
                     fmt(r["cpu_s_per_s"], ".3f"), fmt(r["cpu_ms_per_frame"], ".2f"),
                     "1" if r["case"] == "PyAV alone" else (f"x{ratio:.2f}" if ratio else "-"),
                     fmt(r.get("relay_cpu_s_per_s"), ".3f"), fmt(r.get("host_other_cpu_s_per_s"), ".2f")])
    return render(LIVE_COLUMNS, rows, left=2)


FILE_COLUMNS = ("file", "case", "runs", "media s", "wall s", "x real time", "CPU s", "delivered",
                "host other s/s")


def file_table(results: list[dict[str, Any]], startup: dict[str, Any]) -> str:
    rows = []
    for r in results:
        if "x_real_time" not in r:
            rows.append([Path(r["file"]).name, r["case"], r.get("runs", "-"), "-", "-", "FAILED", "-", "-",
                         fmt(r.get("host_other_cpu_s_per_s"), ".2f")])
            continue
        delivered = fmt(r.get("delivered"), ".3f")
        if "loop" in r["case"]:  # the publisher's own count, and what the subscriber got in the window
            media, wall, cpu = r.get("publisher_media_s"), r.get("publisher_read_s"), r.get("publisher_cpu_s")
            if r.get("delivered") is not None:
                delivered += f" (x{r['delivered_x_real_time']:.0f})"
        else:
            media, wall, cpu = r["media_s"], r["wall_s"], r["cpu_s"]
        rows.append([Path(r["file"]).name, r["case"], r.get("runs", "-"), fmt(media, ".1f"), fmt(wall, ".2f"),
                     fmt(r["x_real_time"], ".1f"), fmt(cpu, ".2f"), delivered,
                     fmt(r.get("host_other_cpu_s_per_s"), ".2f")])
    if startup.get("wall_s_median") is not None:
        rows.append(["-", startup["case"], f"{startup['runs']} (median)", "-", fmt(startup["wall_s_median"], ".2f"),
                     "-", fmt(startup["cpu_s_median"], ".2f"), "-", "-"])
    return render(FILE_COLUMNS, rows, left=3)


def notes(live: list[dict[str, Any]], files: list[dict[str, Any]], startup: dict[str, Any],
          args: argparse.Namespace) -> list[str]:
    out: list[str] = []
    cpus = os.cpu_count() or 1
    for r in live:
        tag = f"live {r['case']} ({r['source_kind']})"
        if "error" in r:
            out.append(f"{tag}: {r['error'].splitlines()[0]}")
            continue
        if r["source_kind"] == "paced" and r.get("fps") is not None and r["fps"] < 0.95 * args.fps:
            out.append(f"{tag}: {r['fps']:.1f} fps of the source's {args.fps:g}")
        if r.get("cpu_ms_per_frame_nominal") and r.get("cpu_ms_per_frame") is not None:
            out.append(f"{tag}: nothing subscribed, so no media left the publisher; CPU ms/frame assumes the "
                       f"nominal {args.fps:g} fps")
        if r["source_kind"] == "unpaced" and r["case"] == "PyAV alone":
            out.append("live (unpaced): lavfi does not pace testsrc2 (without the realtime filter it delivers "
                       "frames as fast as they are read), so both pipelines run flat out: compare CPU ms/frame, "
                       "not CPU s/s")
        total = r["cpu_s_per_s"] + (r.get("relay_cpu_s_per_s") or 0) + (r.get("subscriber_cpu_s_per_s") or 0)
        if total >= 0.9 * cpus:
            out.append(f"{tag}: publisher + relay + subscriber used {total:.2f} of {cpus} cores: the machine is "
                       "saturated, so the numbers are a ceiling, not a cost")
        if r.get("aborted_groups"):
            out.append(f"{tag}: the subscriber saw {r['aborted_groups']} aborted groups")
        if r.get("publisher_exit") not in (None, 0):
            out.append(f"{tag}: hang publish exited {exit_text(r['publisher_exit'])} on SIGINT")
        if r.get("publisher_log_alerts"):
            out.append(f"{tag}: publisher logged {r['publisher_log_alerts'][:2]}")
        if r.get("relay_log_alerts"):
            out.append(f"{tag}: relay logged {r['relay_log_alerts'][:2]}")
    busy = [r for r in live + files if r.get("host_other_cpu_s_per_s", 0) >= 0.2]
    if busy:
        worst = max(busy, key=lambda r: r["host_other_cpu_s_per_s"])
        out.append(f"other processes on this host used up to {worst['host_other_cpu_s_per_s']:.2f} of {cpus} cores "
                   f"during {len(busy)} case(s) (host other s/s column): those rows are noisy; rerun on a quiet host")
    median_start = startup.get("wall_s_median")
    loop_rate = next((r["x_real_time"] for r in files if "loop" in r["case"] and "x_real_time" in r), None)
    for r in files:
        tag = f"{Path(r['file']).name} {r['case']}"
        if "x_real_time" not in r:
            out.append(f"{tag}: {r.get('error', 'no result').splitlines()[0]}")
            continue
        if "passes" in r:
            per_pass = r["wall_s"] / len(r["passes"])
            media = r["media_s"] / len(r["passes"])
            remux = (f", and remuxing {media:.1f}s at the --loop row's x{loop_rate:.0f} takes "
                     f"~{media / loop_rate:.2f}s") if loop_rate else ""
            if r["announce_after_spawn_s_median"] is not None:
                out.append(f"{tag}: {per_pass:.2f}s per pass: the broadcast is announced "
                           f"{r['announce_after_spawn_s_median']:.2f}s after spawn (interpreter start + imports "
                           f"alone: ~{median_start or 0:.2f}s, the --help row), the process exits "
                           f"{r['exit_after_announce_s_median']:.2f}s after that{remux}: startup and teardown "
                           "dominate (medians)")
            if r["never_announced"]:
                out.append(f"{tag}: in {r['never_announced']} of {len(r['passes'])} passes hang publish exited 0 "
                           "without its broadcast ever being announced (it read the whole file before it connected)")
            if r["delivered"] < 0.99:
                ranges = {}
                for kind in ("video", "audio"):
                    tracks = [p["per_track"][kind] for p in r["passes"] if kind in p.get("per_track", {})]
                    got = [t for t in tracks if t["received"]]
                    subscribed = [t for t in tracks if t["subscribed"]]
                    if tracks:
                        ranges[kind] = (f"{sum(t['received'] for t in tracks)}/{sum(t['in_file'] for t in tracks)}"
                                        + (f" frames, media {min(t['first_ts_s'] for t in got):.1f}.."
                                           f"{max(t['last_ts_s'] for t in got):.1f}s" if got else " frames")
                                        + f", subscribed in {len(subscribed)}/{len(tracks)} passes, ended cleanly "
                                          f"in {sum(t['ended'] for t in subscribed)}/{len(subscribed)}")
                out.append(f"{tag}: the subscriber received {100 * r['delivered']:.0f}% of the frames ("
                           + "; ".join(f"{k} {v}" for k, v in ranges.items())
                           + "): --fast reads the file before anyone can subscribe, so the start is gone from the "
                           "track's cache when the subscriber arrives")
            for kind in ("video", "audio"):
                tracks = [p["per_track"][kind] for p in r["passes"] if kind in p.get("per_track", {})]
                subscribed = [t for t in tracks if t["subscribed"]]
                hung = [t for t in subscribed if not t["ended"] and not t["error"]]
                if hung:
                    out.append(f"{tag}: in {len(hung)}/{len(subscribed)} subscribed passes the {kind} track neither "
                               "ended nor failed "
                               f"within {FILE_DRAIN:g}s after hang publish exited "
                               f"({sum(t['unfinished_groups'] for t in hung)} groups left open, neither finished nor "
                               "aborted): the tail of the file never arrives and a player would wait forever")
        if "loop" in r["case"]:
            audio = r.get("per_track", {}).get("audio")
            video = r.get("per_track", {}).get("video")
            if audio is not None and video is not None and video["frames"] and audio["frames"] == 0:
                out.append(f"{tag}: no audio frame reached the subscriber in the window (last audio at "
                           f"{audio['last_ts_s']:.1f}s media time while video reached {video['last_ts_s']:.0f}s)")
            if r.get("delivered") is not None and r["delivered"] < 0.99:
                out.append(f"{tag}: the publisher reads at x{r['x_real_time']:.0f}; the subscriber got "
                           f"{100 * r['delivered']:.0f}% of the video frames of the media span it saw "
                           f"(x{r['delivered_x_real_time']:.0f}): whole groups are skipped on the way")
            if r.get("publisher_exit") not in (None, 0):
                out.append(f"{tag}: hang publish exited {exit_text(r['publisher_exit'])} on SIGINT")
    return out


# ---------------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=float, default=10.0, help="live measuring window in seconds (default 10)")
    parser.add_argument("--warmup", type=float, default=3.0,
                        help="live: seconds between the first frame and the window (default 3)")
    parser.add_argument("--warmup-timeout", type=float, default=30.0,
                        help="seconds to wait for an announcement or a first frame (default 30)")
    parser.add_argument("--live-sources", default=",".join(LIVE_SOURCES),
                        help="paced (testsrc2 + realtime filter, like a camera), unpaced (bare testsrc2), or both "
                             "(default paced,unpaced); empty to skip the live part")
    parser.add_argument("--no-idle-row", action="store_true",
                        help="skip the paced 'hang publish, no subscriber' run (capture + encode, nothing sent)")
    parser.add_argument("--size", default="1280x720", help="live picture size (default 1280x720)")
    parser.add_argument("--fps", type=float, default=30.0, help="live frame rate (default 30)")
    parser.add_argument("--bitrate", type=int, default=2_000_000, help="live video bits per second (default 2000000)")
    parser.add_argument("--keyframe-interval", type=float, default=2.0, help="live GOP in seconds (default 2)")
    parser.add_argument("--file-passes", type=int, default=5, help="hang publish --fast runs per file (default 5)")
    parser.add_argument("--files", type=Path, nargs="*", default=[SAMPLE],
                        help="files to publish (default samples/h264-aac.mp4)")
    parser.add_argument("--file-seconds", type=int, default=30,
                        help="also make and publish a sample this long (h264-aac.mp4 recipe, cached under "
                             "bench/results/); 0 to skip (default 30)")
    parser.add_argument("--file-window", type=float, default=5.0,
                        help="window of the --fast --loop run in seconds; 0 to skip it (default 5)")
    parser.add_argument("--logs", type=Path, help="keep the relay, publisher and worker logs in this directory")
    parser.add_argument("--json", type=Path, default=RESULTS / "publish.json",
                        help="where to write the results (default bench/results/publish.json)")
    parser.add_argument("--worker", choices=("pyav-encode", "pyav-demux"), help=argparse.SUPPRESS)
    parser.add_argument("--worker-params", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return args
    args.live_list = [x.strip() for x in args.live_sources.split(",") if x.strip()]
    if set(args.live_list) - set(LIVE_SOURCES):
        parser.error(f"--live-sources: choose from {', '.join(LIVE_SOURCES)}")
    if args.window <= 0 or args.warmup < 0 or args.fps <= 0 or args.bitrate <= 0 or args.file_passes < 1:
        parser.error("--window, --fps, --bitrate and --file-passes must be positive, --warmup not negative")
    if not re.fullmatch(r"\d+x\d+", args.size):
        parser.error("--size wants WIDTHxHEIGHT")
    for path in args.files:
        if not path.is_file():
            parser.error(f"no such file: {path} (make the samples with: python samples/make_samples.py)")
    return args


async def with_host_load(case: Any) -> Any:
    """Run a case; add to its result(s) how much CPU the rest of the host used meanwhile."""
    load = HostLoad()
    result = await case
    other = load.other_cpu_s_per_s()
    for r in result if isinstance(result, list) else [result]:
        r["host_other_cpu_s_per_s"] = other
    return result


async def main_async(args: argparse.Namespace, media_files: list[MediaFile]) -> int:
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    assert main_task is not None
    loop.add_signal_handler(signal.SIGTERM, main_task.cancel)
    live: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
        logdir = args.logs or Path(tmp)
        logdir.mkdir(parents=True, exist_ok=True)
        for kind in args.live_list:
            live.append(await with_host_load(live_hang(args, kind, logdir)))
            if kind == "paced" and not args.no_idle_row:
                live.append(await with_host_load(live_hang(args, kind, logdir, subscribe=False)))
            live.append(await with_host_load(live_pyav(args, kind, logdir)))
        startup = await startup_cost(logdir) if media_files else {}
        for index, media in enumerate(media_files):
            progress(f"file {media.label}: {media.duration_s:.2f}s, {media.packets}, {args.file_passes} passes")
            files.append(await with_host_load(file_passes(args, media, logdir, str(index))))
            files.extend(await with_host_load(file_pyav(args, media, logdir, str(index))))
        if media_files and args.file_window > 0:
            longest = max(media_files, key=lambda m: m.duration_s)
            files.append(await with_host_load(file_loop(args, longest, logdir)))
    note_lines = notes(live, files, startup, args)
    report = {
        "benchmark": "publish",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config": {
            "window_s": args.window, "warmup_s": args.warmup, "live_sources": args.live_list, "size": args.size,
            "fps": args.fps, "bitrate": args.bitrate, "keyframe_interval_s": args.keyframe_interval,
            "file_passes": args.file_passes, "files": [m.label for m in media_files],
            "file_window_s": args.file_window, "broadcast": CAM_BROADCAST,
        },
        "host": {
            "cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "packages": versions_of("hang", "aioquic", "av"), "git": git_describe(),
        },
        "media": [{"file": m.label, "duration_s": m.duration_s, "packets": m.packets, "fps": m.fps}
                  for m in media_files],
        "live": live,
        "files": files,
        "startup": startup,
        "notes": note_lines,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"publish: {os.cpu_count()} CPUs, av {versions_of('av')['av']}")
    if live:
        print(f"\nlive {args.size}@{args.fps:g} H.264 {args.bitrate / 1e6:g} Mbit/s, GOP {args.keyframe_interval:g}s: "
              f"{args.window:g}s window after {args.warmup:g}s warm-up (fps and Mbit/s as the subscriber received "
              "them for hang, as encoded for PyAV)")
        print(live_table(live))
    if files:
        print(f"\nfile remux with --fast ({args.file_passes} passes per file; the --loop row is steady state over "
              f"{args.file_window:g}s)")
        print(file_table(files, startup))
    for line in note_lines:
        print(f"note: {line}")
    print(f"results: {args.json}")
    failed = any("error" in r for r in live) or any("x_real_time" not in r for r in files)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return run_worker(args.worker, args.worker_params or "{}")
    paths = list(args.files)
    if args.file_seconds > 0:
        paths.append(long_sample(args.file_seconds))
    media_files = [probe(path) for path in paths]
    try:
        return asyncio.run(main_async(args, media_files))
    except (KeyboardInterrupt, asyncio.CancelledError):
        progress("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
