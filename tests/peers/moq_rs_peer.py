"""Interop peer driving the official Rust MoQ stack (PyPI ``moq-rs`` 0.5.1 + ``moq-ffi`` 0.4.18).

Run it with a Python that has ``moq`` installed; the test suite launches it as a subprocess::

    moq_rs_peer.py relay --bind 127.0.0.1:0 [--ignore-stdin]
    moq_rs_peer.py publish URL --name PATH --track NAME --frames N --groups-of G --interval-ms MS
        [--fingerprint HEX ...] [--insecure] [--wait-stdin] [--linger S]
    moq_rs_peer.py subscribe URL --prefix PREFIX --name PATH --track NAME --count N
        [--fingerprint HEX ...] [--insecure] [--timeout S]
    moq_rs_peer.py publish-media URL --name PATH [--seconds S] [--width W --height H --fps F]
        [--bitrate BPS] [--fingerprint HEX ...] [--insecure] [--wait-stdin] [--linger S]
    moq_rs_peer.py subscribe-media URL --name PATH [--prefix PREFIX] [--frames N]
        [--fingerprint HEX ...] [--insecure] [--timeout S]

``publish-media`` publishes real hang media through moq's media producers: a ``video`` track (PyAV
libx264, AVC3 = Annex-B with SPS/PPS before every IDR, a keyframe every second) showing a moving
gradient with the frame number as a 16-bit barcode on top, and an ``audio`` track (PyAV libopus,
48 kHz stereo 440 Hz tone, 20 ms packets). ``subscribe-media`` parses the hang catalog with moq,
prints it (parsed and raw) and reads every video and audio rendition through ``subscribe_media``.

URL is ``https://HOST:PORT/`` (WebTransport) or ``moql://HOST:PORT/`` (raw QUIC). ``--log LEVEL``
(before the command) turns on Rust tracing. Events go to stdout as JSON lines, flushed at once;
human-readable logs go to stderr. Exit codes: 0 success, 1 failure, 2 subscriber timeout,
143 stopped by SIGTERM/SIGINT (relay: 0).

Observed moq-ffi 0.4.18 behaviour: ``announced(prefix)`` yields each broadcast's full path (in
``.prefix``); a subscription starts at the newest group; track end is ``next_group() -> None``; a
client's announcement iterator outlives its session, so ``session.closed()`` is watched too; and a
process exiting right after closing a client sends no CONNECTION_CLOSE, hence ``CLOSE_GRACE``.
The media producers group video at its own keyframes (no ``cut()`` needed) but audio only on
``cut()``; the generated catalog is withheld while a video rendition waits for its first keyframe
(a ``VideoHint`` does not change that), so subscribers see no catalog before video flows; it is then
republished about once a second with measured bitrates, and with no renditions once the tracks finish.
Each video group ends with an empty-payload frame (legacy container: just the timestamp of the next
keyframe, or last + frame duration - 1 at the end), which ``subscribe_media`` delivers as a 0-byte frame.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import enum
import json
import math
import signal
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from fractions import Fraction
from typing import Any, NamedTuple, TypeVar

import moq

T = TypeVar("T")
CLOSE_GRACE = 0.25  # seconds to stay alive after closing sessions so the QUIC close leaves


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def log(message: str) -> None:
    print(f"moq_rs_peer: {message}", file=sys.stderr, flush=True)


def describe(err: BaseException) -> str:
    details = moq.protocol_error(err)  # str() of a MoqError.Protocol hides its fields
    return f"{type(err).__name__}: {details if details is not None else err}".replace("\n", " ")


def error_text(err: BaseException) -> str:
    """The library's own message (``str()`` of a MoqError is the repr of its fields)."""
    details = moq.protocol_error(err)
    if details is not None:
        return str(details.message)
    values = getattr(err, "_values", None)
    if isinstance(values, tuple) and values and all(isinstance(value, str) for value in values):
        return ", ".join(values)
    return str(err)


def read_stdin(loop: asyncio.AbstractEventLoop, *, until_eof: bool) -> asyncio.Future[str]:
    """Resolve with the next stdin line ("" at EOF), or with ``until_eof`` only at EOF.

    A daemon thread does the blocking read, so it never holds up the interpreter's exit.
    """
    future: asyncio.Future[str] = loop.create_future()

    def reader() -> None:
        line = ""
        with contextlib.suppress(OSError, ValueError, AttributeError):
            line = sys.stdin.readline()
            while until_eof and line:
                line = sys.stdin.readline()
        loop.call_soon_threadsafe(lambda: None if future.done() else future.set_result(line))

    threading.Thread(target=reader, name="stdin", daemon=True).start()
    return future


async def first(work: Awaitable[T], *guards: asyncio.Future[Any], failure: str) -> T:
    """Await ``work``; raise ConnectionError(failure) if a guard finishes first."""
    job = asyncio.ensure_future(work)
    try:
        await asyncio.wait({job, *guards}, return_when=asyncio.FIRST_COMPLETED)
        if job.done():
            return job.result()
        errors = [g.exception() for g in guards if g.done() and not g.cancelled() and g.exception()]
        raise ConnectionError(failure + "".join(f" ({describe(e)})" for e in errors if e))
    finally:
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)


@contextlib.asynccontextmanager
async def connect(args: argparse.Namespace) -> AsyncIterator[tuple[moq.Client, asyncio.Future[None]]]:
    """A one-shot client and a future that resolves when its session ends."""
    options: dict[str, Any] = {"reconnect": False, "websocket_enabled": False}
    if args.fingerprint:
        options["tls_fingerprints"] = list(args.fingerprint)
    if args.insecure:
        options["tls_verify"] = False
    try:
        async with moq.Client(args.url, **options) as client:
            assert client.session is not None
            closed = asyncio.ensure_future(client.session.closed())
            try:
                yield client, closed
            finally:
                closed.cancel()
                await asyncio.gather(closed, return_exceptions=True)
    finally:
        await asyncio.sleep(CLOSE_GRACE)


async def cmd_relay(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if not args.ignore_stdin:
        read_stdin(loop, until_eof=True).add_done_callback(lambda _: stop.set())
    sessions: set[asyncio.Task[None]] = set()

    async def hold(request: moq.Request) -> None:
        path, transport = request.path, getattr(request.transport, "name", str(request.transport))
        try:
            session = await request.accept()
        except Exception as err:
            return log(f"session {path!r} refused: {describe(err)}")
        emit("session", path=path, transport=transport)
        try:
            await session.closed()
            log(f"session {path!r} closed")
        except asyncio.CancelledError:
            session.shutdown()  # the relay is stopping: tell the peer rather than going silent
            raise
        except Exception as err:  # even a clean close by the peer reads as Protocol kind CANCEL
            log(f"session {path!r} ended: {describe(err)}")

    async def accept_loop(server: moq.Server) -> None:
        async for request in server:
            task = asyncio.create_task(hold(request))
            sessions.add(task)
            task.add_done_callback(sessions.discard)

    async with moq.Server(args.bind, tls_generate=["localhost"]) as server:
        emit("ready", addr=server.local_addr, fingerprints=server.cert_fingerprints())
        acceptor = asyncio.create_task(accept_loop(server))
        await first(stop.wait(), acceptor, failure="the server stopped accepting sessions")
        for task in (acceptor, *sessions):
            task.cancel()
        await asyncio.gather(acceptor, *sessions, return_exceptions=True)
        await asyncio.sleep(CLOSE_GRACE)  # let the sessions' CONNECTION_CLOSE leave
    log("relay stopped")
    return 0


async def cmd_publish(args: argparse.Namespace) -> int:
    async with connect(args) as (client, closed):
        broadcast = client.create_broadcast(args.name)
        track = broadcast.publish_track(args.track)
        broadcast.announce()
        emit("announced", name=args.name)

        async def send() -> list[int]:
            if args.wait_stdin:
                line = await read_stdin(asyncio.get_running_loop(), until_eof=False)
                log("go" if line else "stdin closed, publishing anyway")
            group: moq.GroupProducer | None = None
            sequences: list[int] = []
            for i in range(args.frames):
                if i % args.groups_of == 0:
                    group = track.append_group()
                    sequences.append(group.sequence)
                assert group is not None
                group.write_frame(f"frame-{i}".encode(), timestamp_us=i * args.interval_ms * 1000)
                if i % args.groups_of == args.groups_of - 1 or i == args.frames - 1:
                    group.finish()
                if i != args.frames - 1:
                    await asyncio.sleep(args.interval_ms / 1000)
            track.finish()
            return sequences

        try:
            sequences = await first(send(), closed, failure="session closed by the peer")
            emit("sent", frames=args.frames, groups=len(sequences), first_group=sequences[0] if sequences else None)
            await first(asyncio.sleep(args.linger), closed, failure="session closed by the peer")
        finally:
            broadcast.close()  # retracts the announcement; an unfinished track ends with an error
    return 0


async def watch_announcements(client: moq.Client, prefix: str, wanted: str, found: asyncio.Event) -> None:
    """Emit every announcement under ``prefix``; set ``found`` once the path ``wanted`` is active."""
    async for update in client.announced(prefix):
        emit("announce", path=update.prefix, active=update.active)
        if update.active and update.prefix.strip("/") == wanted:
            found.set()


async def cmd_subscribe(args: argparse.Namespace, state: dict[str, int]) -> int:
    wanted = args.name.strip("/")
    async with connect(args) as (client, closed):
        found = asyncio.Event()

        async def follow() -> None:
            await first(found.wait(), watcher, failure="announcement stream ended")
            broadcast = await client.announced_broadcast(args.name).available()
            track = await broadcast.subscribe_track(args.track)
            emit("subscribed")
            while state["frames"] < args.count:
                group = await track.next_group()
                if group is None:
                    return emit("track_end")
                while state["frames"] < args.count and (frame := await group.read_frame()) is not None:
                    text = frame.payload.decode("utf-8", "replace")
                    emit("frame", group=group.sequence, payload=text, timestamp_us=frame.timestamp_us)
                    state["frames"] += 1
            track.cancel()

        watcher = asyncio.create_task(watch_announcements(client, args.prefix, wanted, found))
        try:
            await first(follow(), closed, failure="session closed by the peer")
        except (moq.Error, ConnectionError) as err:
            emit("error", message=describe(err))
            log(f"subscribe failed: {describe(err)}")
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
    emit("done", frames=state["frames"])
    return 0 if state["frames"] == args.count else 1


async def run_subscribe(args: argparse.Namespace) -> int:
    state = {"frames": 0}
    try:
        return await asyncio.wait_for(cmd_subscribe(args, state), args.timeout)
    except TimeoutError:
        emit("timeout", frames=state["frames"])
        log(f"timed out after {args.timeout}s with {state['frames']}/{args.count} frames")
        return 2


class Encoded(NamedTuple):
    payload: bytes
    timestamp_us: int
    keyframe: bool


class VideoSource:
    """libx264 (PyAV) Annex-B H.264: a moving gradient with the frame number as a barcode.

    The top ``BAR_HEIGHT`` rows hold the frame number as ``BAR_BITS`` blocks, most significant bit
    first, luma 235 for 1 and 16 for 0: coarse enough to survive compression and be read back.
    """

    BAR_BITS = 16
    BAR_HEIGHT = 16

    def __init__(self, width: int, height: int, fps: int, bitrate: int) -> None:
        import av  # PyAV and numpy only load for the media commands
        import numpy as np

        self.fps = fps
        self._encoder = av.CodecContext.create("libx264", "w")
        self._encoder.width, self._encoder.height, self._encoder.pix_fmt = width, height, "yuv420p"
        self._encoder.time_base = Fraction(1, fps)
        self._encoder.framerate = Fraction(fps, 1)
        self._encoder.gop_size = fps  # a keyframe every second
        self._encoder.bit_rate = bitrate
        # No global header: libx264 then repeats SPS/PPS in band before every IDR (AVC3 / Annex-B).
        self._encoder.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "keyint_min": str(fps),
            "sc_threshold": "0",
        }
        self._encoder.open()
        rows, cols = np.mgrid[0:height, 0:width]
        self._ramp = (rows + cols).astype(np.int64)
        self._chroma_ramp = (np.mgrid[0 : height // 2, 0 : width // 2][1] * 2).astype(np.int64)
        self._bar_cols = np.minimum(cols[0] * self.BAR_BITS // width, self.BAR_BITS - 1)

    def picture(self, index: int) -> Any:
        """The yuv420p picture of frame ``index``."""
        import av
        import numpy as np

        height, width = self._ramp.shape
        luma = ((self._ramp + 4 * index) % 220 + 16).astype(np.uint8)
        bits = np.array([(index >> (self.BAR_BITS - 1 - b)) & 1 for b in range(self.BAR_BITS)], dtype=np.uint8)
        luma[: min(self.BAR_HEIGHT, height)] = np.where(bits[self._bar_cols] == 1, 235, 16).astype(np.uint8)
        cb = ((self._chroma_ramp + 2 * index) % 256).astype(np.uint8)
        cr = np.full_like(cb, (128 + 3 * index) % 256)
        planes = np.concatenate([luma.ravel(), cb.ravel(), cr.ravel()]).reshape(height * 3 // 2, width)
        frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        frame.pts = index
        return frame

    def encode(self, index: int | None) -> list[Encoded]:
        """Encode frame ``index`` (None flushes); PTS is in frames, so no B-frames means no reordering."""
        packets = self._encoder.encode(None if index is None else self.picture(index))
        return [Encoded(bytes(p), (p.pts or 0) * 1_000_000 // self.fps, bool(p.is_keyframe)) for p in packets]


class AudioSource:
    """libopus (PyAV): a 440 Hz stereo tone, 48 kHz, 20 ms packets; timestamps offset by the pre-skip."""

    RATE = 48_000
    SAMPLES = 960  # 20 ms
    TONE_HZ = 440.0

    def __init__(self) -> None:
        import av

        self._encoder = av.CodecContext.create("libopus", "w")
        self._encoder.sample_rate = self.RATE
        self._encoder.layout = "stereo"
        self._encoder.format = "s16"
        self._encoder.time_base = Fraction(1, self.RATE)
        self._encoder.open()
        self.opus_head = bytes(self._encoder.extradata or b"")
        if self.opus_head[:8] != b"OpusHead":
            raise RuntimeError(f"libopus gave no OpusHead extradata: {self.opus_head.hex()}")
        # Encoder PTS start at -pre_skip (-312 for libopus): shift them so timestamps start at 0.
        self.pre_skip = int.from_bytes(self.opus_head[10:12], "little")

    def encode(self, index: int | None) -> list[Encoded]:
        """Encode 20 ms packet ``index`` (None flushes)."""
        import av
        import numpy as np

        frame = None
        if index is not None:
            t = (np.arange(self.SAMPLES) + index * self.SAMPLES) / self.RATE
            tone = (np.sin(2 * np.pi * self.TONE_HZ * t) * 8000).astype(np.int16)
            interleaved = np.repeat(tone, 2).reshape(1, -1)  # packed s16: L R L R ...
            frame = av.AudioFrame.from_ndarray(interleaved, format="s16", layout="stereo")
            frame.sample_rate = self.RATE
            frame.pts = index * self.SAMPLES
        return [
            Encoded(bytes(p), max(0, (p.pts or 0) + self.pre_skip) * 1_000_000 // self.RATE, True)
            for p in self._encoder.encode(frame)
        ]


async def emit_catalog_updates(broadcast: moq.BroadcastProducer) -> None:
    """Read back the catalog moq generates for ``broadcast``: one ``catalog_raw`` per catalog group."""
    track = await broadcast.consume().subscribe_track("catalog.json")
    try:
        async for group in track:
            if (frame := await group.read_frame()) is not None:
                emit("catalog_raw", group=group.sequence, text=frame.payload.decode("utf-8", "replace"))
    finally:
        track.cancel()


async def cmd_publish_media(args: argparse.Namespace) -> int:
    video_source = VideoSource(args.width, args.height, args.fps, args.bitrate)
    audio_source = AudioSource()
    async with connect(args) as (client, closed):
        broadcast = client.create_broadcast(args.name)
        hint = moq.VideoHint(coded=moq.Dimensions(width=args.width, height=args.height), framerate=float(args.fps))
        video = broadcast.publish_video(moq.VideoFormat.AVC3, b"", track="video", hint=hint)
        audio = broadcast.publish_audio(moq.AudioFormat.OPUS, audio_source.opus_head, track="audio")
        catalogs = asyncio.create_task(emit_catalog_updates(broadcast))
        broadcast.announce()
        emit("announced", name=args.name)

        async def send() -> dict[str, int]:
            if args.wait_stdin:
                line = await read_stdin(asyncio.get_running_loop(), until_eof=False)
                log("go" if line else "stdin closed, publishing anyway")
            sent = {"video_frames": 0, "audio_frames": 0, "keyframes": 0}
            audio_group = 0

            def write_video(packets: list[Encoded]) -> None:
                for packet in packets:  # the producer starts a group at each keyframe by itself
                    video.write_frame(packet.payload, timestamp_us=packet.timestamp_us)
                    sent["video_frames"] += 1
                    sent["keyframes"] += packet.keyframe

            def write_audio(packets: list[Encoded]) -> None:
                nonlocal audio_group
                for packet in packets:  # audio groups only on cut(): one per second, as the video GOPs
                    group = packet.timestamp_us // 1_000_000
                    if sent["audio_frames"] and group != audio_group:
                        audio.cut()
                    audio_group = group
                    audio.write_frame(packet.payload, timestamp_us=packet.timestamp_us)
                    sent["audio_frames"] += 1

            loop = asyncio.get_running_loop()
            video_total = round(args.seconds * args.fps)
            audio_total = round(args.seconds * AudioSource.RATE / AudioSource.SAMPLES)
            start, v, a = loop.time(), 0, 0
            while v < video_total or a < audio_total:
                video_at = v / args.fps if v < video_total else math.inf
                audio_at = a * AudioSource.SAMPLES / AudioSource.RATE if a < audio_total else math.inf
                if (delay := start + min(video_at, audio_at) - loop.time()) > 0:
                    await asyncio.sleep(delay)
                if video_at <= audio_at:
                    write_video(video_source.encode(v))
                    v += 1
                else:
                    write_audio(audio_source.encode(a))
                    a += 1
            write_video(video_source.encode(None))
            write_audio(audio_source.encode(None))
            video.finish()
            audio.finish()
            return sent

        try:
            sent = await first(send(), closed, failure="session closed by the peer")
            emit("sent", **sent)
            await first(asyncio.sleep(args.linger), closed, failure="session closed by the peer")
        finally:
            catalogs.cancel()
            await asyncio.gather(catalogs, return_exceptions=True)
            broadcast.close()
    return 0


def jsonable(value: Any) -> Any:
    """A moq-ffi record (catalog, rendition, ...) as plain JSON data; bytes become hex."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, moq.Container):  # an enum variant class, e.g. MoqContainer.LEGACY
        return {"kind": type(value).__name__.rsplit(".", 1)[-1].lower(), **jsonable(vars(value))}
    if hasattr(value, "__dict__"):
        return jsonable(vars(value))
    return value


def catalog_json(catalog: moq.Catalog) -> dict[str, Any]:
    data: dict[str, Any] = jsonable(catalog)
    sections: dict[str, Any] = {}
    for name, text in catalog.sections.items():  # untyped sections arrive as JSON text
        try:
            sections[name] = json.loads(text)
        except ValueError:
            sections[name] = text
    data["sections"] = sections
    return data


def h264_nal_types(payload: bytes) -> tuple[bool, list[int]]:
    """(is Annex-B, NAL unit types) of an H.264 access unit, Annex-B or 4-byte length-prefixed."""
    types: list[int] = []
    if payload.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01")):
        at = payload.find(b"\x00\x00\x01")
        while at >= 0 and at + 3 < len(payload):
            types.append(payload[at + 3] & 0x1F)
            at = payload.find(b"\x00\x00\x01", at + 3)
        return True, types
    at = 0
    while at + 4 < len(payload):
        size = int.from_bytes(payload[at : at + 4], "big")
        types.append(payload[at + 4] & 0x1F)
        at += 4 + size
    return False, types


async def read_raw_catalog(broadcast: moq.BroadcastConsumer) -> None:
    """Emit the newest ``catalog.json`` group's first frame verbatim."""
    track = await broadcast.subscribe_track("catalog.json")
    try:
        group = await track.next_group()
        frame = await group.read_frame() if group is not None else None
        if group is None or frame is None:
            return emit("catalog_raw", group=None, text=None)
        emit("catalog_raw", group=group.sequence, text=frame.payload.decode("utf-8", "replace"))
    finally:
        track.cancel()


async def cmd_subscribe_media(args: argparse.Namespace, state: dict[str, int]) -> int:
    wanted = args.name.strip("/")
    async with connect(args) as (client, closed):
        found = asyncio.Event()

        async def follow() -> bool:
            await first(found.wait(), watcher, failure="announcement stream ended")
            broadcast = await client.announced_broadcast(args.name).available()
            try:
                catalog = await broadcast.catalog()
            except moq.Error as err:
                log(f"catalog rejected: {describe(err)}")
                with contextlib.suppress(moq.Error, TimeoutError):
                    await asyncio.wait_for(read_raw_catalog(broadcast), 2.0)
                emit("error", message=describe(err), text=error_text(err), stage="catalog")
                return False
            emit("catalog", json=catalog_json(catalog))
            await read_raw_catalog(broadcast)
            goal = "video" if catalog.video else "audio"  # count audio only when there is no video
            reached = asyncio.Event()

            async def read(kind: str, name: str, rendition: moq.Video | moq.Audio) -> None:
                h264 = kind == "video" and rendition.codec.startswith(("avc1", "avc3"))
                async with await broadcast.subscribe_media(name, rendition) as media:
                    emit("subscribed", track=name, kind=kind, codec=rendition.codec)
                    async for frame in media:
                        extra: dict[str, Any] = {"head": frame.payload[:8].hex()}
                        if not frame.payload:  # moq-ffi ends each video group with an empty marker frame
                            state["empty"] += 1
                        else:
                            state[kind] += 1
                            if h264:
                                extra["annexb"], extra["nal_types"] = h264_nal_types(frame.payload)
                        emit(
                            "media",
                            track=name,
                            kind=kind,
                            timestamp_us=frame.timestamp_us,
                            keyframe=frame.keyframe,
                            size=len(frame.payload),
                            **extra,
                        )
                        if state[goal] >= args.frames:
                            return reached.set()
                emit("track_end", track=name)

            renditions: list[tuple[str, str, moq.Video | moq.Audio]] = [
                *(("video", name, video) for name, video in catalog.video.items()),
                *(("audio", name, audio) for name, audio in catalog.audio.items()),
            ]
            readers = [asyncio.create_task(read(*rendition)) for rendition in renditions]
            finished = asyncio.ensure_future(asyncio.gather(*readers))
            try:
                await first(reached.wait(), finished, failure="every media track ended")
            except ConnectionError:
                finished.result()  # a reader's error explains it better
                return False
            finally:
                for task in readers:
                    task.cancel()
                await asyncio.gather(finished, return_exceptions=True)
            return True

        watcher = asyncio.create_task(watch_announcements(client, args.prefix, wanted, found))
        ok = False
        try:
            ok = await first(follow(), closed, failure="session closed by the peer")
        except (moq.Error, ConnectionError) as err:
            emit("error", message=describe(err), text=error_text(err))
            log(f"subscribe-media failed: {describe(err)}")
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
    emit("done", video=state["video"], audio=state["audio"], empty=state["empty"])
    return 0 if ok else 1


async def run_subscribe_media(args: argparse.Namespace) -> int:
    state = {"video": 0, "audio": 0, "empty": 0}
    try:
        return await asyncio.wait_for(cmd_subscribe_media(args, state), args.timeout)
    except TimeoutError:
        emit("timeout", video=state["video"], audio=state["audio"])
        log(f"timed out after {args.timeout}s with {state['video']} video and {state['audio']} audio frames")
        return 2


CLIENT_COMMANDS: dict[str, Callable[[argparse.Namespace], Awaitable[int]]] = {
    "publish": cmd_publish,
    "subscribe": run_subscribe,
    "publish-media": cmd_publish_media,
    "subscribe-media": run_subscribe_media,
}


async def until_signal(args: argparse.Namespace) -> int:
    """Run a client command; SIGTERM/SIGINT cancel it so the session still closes cleanly."""
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await CLIENT_COMMANDS[args.cmd](args)
    except asyncio.CancelledError:
        log("terminated by signal")
        return 143


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", help="Rust log level to stderr: error, warn, info, debug, trace")
    commands = parser.add_subparsers(dest="cmd", required=True)
    relay = commands.add_parser("relay", help="one-node relay (publish and subscribe share one origin)")
    relay.add_argument("--bind", default="127.0.0.1:0")
    relay.add_argument("--ignore-stdin", action="store_true", help="do not stop at stdin EOF")
    clients = []
    for name, text in (
        ("publish", "publish one raw track"),
        ("subscribe", "discover a broadcast, read a track"),
        ("publish-media", "publish H.264 + Opus through moq's media producers"),
        ("subscribe-media", "discover a broadcast, parse its hang catalog, read its media"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("url")
        sub.add_argument("--fingerprint", action="append", default=[], help="hex SHA-256 of the server cert")
        sub.add_argument("--insecure", action="store_true", help="skip TLS verification")
        sub.add_argument("--name", required=True, help="broadcast path")
        if not name.endswith("-media"):
            sub.add_argument("--track", required=True, help="track name")
        clients.append(sub)
    publish, subscribe, publish_media, subscribe_media = clients
    publish.add_argument("--frames", type=int, required=True)
    publish.add_argument("--groups-of", type=int, required=True)
    publish.add_argument("--interval-ms", type=int, required=True)
    publish.add_argument("--wait-stdin", action="store_true", help="wait for a stdin line before sending")
    publish.add_argument("--linger", type=float, default=1.0)
    subscribe.add_argument("--prefix", default="")
    subscribe.add_argument("--count", type=int, required=True)
    subscribe.add_argument("--timeout", type=float, default=20.0)
    publish_media.add_argument("--seconds", type=float, default=3.0, help="media duration, sent at real-time pace")
    publish_media.add_argument("--width", type=int, default=320)
    publish_media.add_argument("--height", type=int, default=240)
    publish_media.add_argument("--fps", type=int, default=30, help="frame rate; also the GOP length (1 s)")
    publish_media.add_argument("--bitrate", type=int, default=500_000, help="libx264 target bits per second")
    publish_media.add_argument("--wait-stdin", action="store_true", help="wait for a stdin line before sending")
    publish_media.add_argument("--linger", type=float, default=1.0)
    subscribe_media.add_argument("--prefix", default="")
    subscribe_media.add_argument("--frames", type=int, default=30, help="video frames to read (audio if no video)")
    subscribe_media.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args(argv)
    if args.cmd == "publish" and (args.groups_of < 1 or args.frames < 0 or args.interval_ms < 0):
        parser.error("--groups-of must be >= 1, --frames and --interval-ms >= 0")
    if args.cmd == "publish-media" and (
        args.seconds < 0 or args.fps < 1 or args.width < 16 or args.height < 16 or args.width % 2 or args.height % 2
    ):
        parser.error("--seconds must be >= 0, --fps >= 1, --width and --height even and >= 16")
    if args.cmd == "subscribe-media" and args.frames < 1:
        parser.error("--frames must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.log:
        moq.log_level(args.log)
    try:
        return asyncio.run(cmd_relay(args) if args.cmd == "relay" else until_signal(args))
    except Exception as err:
        log(f"{args.cmd} failed: {describe(err)}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
