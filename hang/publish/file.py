"""Publishing a media file: pass supported codecs through untouched, transcode the rest, pace at real time."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from hang.errors import MediaError
from hang.media.describe import audio_config, video_config
from hang.media.encode import AudioEncoder, VideoEncoder
from hang.media.packager import EncodedPacket, H264Normalizer
from hang.publish.broadcast import MediaBroadcast

log = logging.getLogger("hang.publish")

PASSTHROUGH_VIDEO = {"h264", "vp8", "vp9", "av1"}
PASSTHROUGH_AUDIO = {"aac", "opus"}
BATCH = 16


@dataclass
class _Stream:
    """One input stream and how it reaches the broadcast."""

    stream: Any
    name: str
    passthrough: bool
    encoder: VideoEncoder | AudioEncoder | None = None
    normalizer: H264Normalizer | None = None
    added: bool = False
    pending: list[EncodedPacket] = field(default_factory=list)


class FilePublisher:
    """Reads a file with PyAV and feeds its first video and audio streams into a broadcast."""

    def __init__(self, path: Path, broadcast: MediaBroadcast, *, fast: bool = False, loop: bool = False,
                 progress: bool = True) -> None:
        if not path.is_file():
            raise MediaError(f"no such file: {path}")
        try:
            self.container: Any = av.open(str(path))
        except (av.error.FFmpegError, OSError) as exc:
            raise MediaError(f"cannot open {path}: {exc}") from None
        self.path = path
        self.broadcast = broadcast
        self.fast, self.loop, self.show_progress = fast, loop, progress
        self.streams: dict[int, _Stream] = {}
        video = self.container.streams.video[0] if self.container.streams.video else None
        audio = self.container.streams.audio[0] if self.container.streams.audio else None
        if video is None and audio is None:
            raise MediaError(f"{path} has no audio or video stream")
        if video is not None:
            self.streams[video.index] = self._video(video)
        if audio is not None:
            self.streams[audio.index] = self._audio(audio)
        duration = self.container.duration
        self.duration = duration / av.time_base if duration else 0.0
        self.position = 0.0
        self.skipped = 0

    def _video(self, stream: Any) -> _Stream:
        codec = stream.codec_context.name
        if codec in PASSTHROUGH_VIDEO:
            normalizer = None
            if codec == "h264":
                extradata = bytes(stream.codec_context.extradata or b"")
                avcc = extradata if extradata[:1] == b"\x01" else None
                normalizer = H264Normalizer("avc1" if avcc else "avc3", avcc=avcc)
            return _Stream(stream, "video", True, normalizer=normalizer)
        log.info("transcoding %s video to H.264", codec)
        rate = float(stream.average_rate or 30)
        return _Stream(stream, "video", False, encoder=VideoEncoder("h264", framerate=rate))

    def _audio(self, stream: Any) -> _Stream:
        codec = stream.codec_context.name
        if codec in PASSTHROUGH_AUDIO:
            return _Stream(stream, "audio", True)
        log.info("transcoding %s audio to Opus", codec)
        return _Stream(stream, "audio", False, encoder=AudioEncoder("opus", channels=min(2, stream.channels or 2)))

    def _describe(self, entry: _Stream, packet: EncodedPacket) -> None:
        context = entry.stream.codec_context
        extradata = bytes(context.extradata) if context.extradata else None
        if entry.name == "video":
            if not packet.keyframe:
                return
            codec = context.name if entry.passthrough else "h264"
            normalizer = entry.normalizer if entry.passthrough else H264Normalizer("avc3")
            entry.normalizer = normalizer
            avcc = normalizer.description if normalizer else None
            config = video_config(codec, packet.payload, width=context.width, height=context.height,
                                  framerate=float(entry.stream.average_rate or 0) or None,
                                  bitrate=context.bit_rate or None, extradata=extradata,
                                  h264_output=normalizer.output if normalizer else "avc3", avcc=avcc)
            encoder = entry.encoder
            request = encoder.request_keyframe if isinstance(encoder, VideoEncoder) else None
            self.broadcast.add_video("video", config, normalizer, on_keyframe_wanted=request)
        elif entry.passthrough:
            self.broadcast.add_audio("audio", audio_config(
                context.name, sample_rate=context.sample_rate, channels=context.channels,
                bitrate=context.bit_rate or None, extradata=extradata))
        else:
            assert isinstance(entry.encoder, AudioEncoder)
            self.broadcast.add_audio("audio", audio_config(
                "opus", sample_rate=48000, channels=entry.encoder.channels, bitrate=entry.encoder.context.bit_rate,
                extradata=entry.encoder.extradata))
        entry.added = True

    def _read_batch(self, offset_us: int) -> list[tuple[_Stream, EncodedPacket]] | None:
        """Up to BATCH packets ready to publish (transcoded where needed); None at the end of the file."""
        out: list[tuple[_Stream, EncodedPacket]] = []
        demuxer = self._demuxer
        while len(out) < BATCH:
            try:
                packet = next(demuxer)
            except StopIteration:
                for entry in self.streams.values():
                    if entry.encoder is not None:
                        out += [(entry, p) for p in entry.encoder.flush()]
                return out or None
            except av.error.FFmpegError as exc:
                self.skipped += 1
                log.warning("skipping unreadable data in %s: %s", self.path.name, exc)
                continue
            found = self.streams.get(packet.stream.index)
            if found is None or packet.size == 0 or packet.pts is None:
                continue
            entry = found
            shift = round(offset_us / 1_000_000 / packet.time_base)
            if entry.passthrough:
                out.append((entry, EncodedPacket(bytes(packet), packet.pts + shift, Fraction(packet.time_base),
                                                 bool(packet.is_keyframe))))
                continue
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:
                self.skipped += 1
                log.warning("skipping a corrupt %s packet at %.3f s: %s", entry.name,
                            float(packet.pts * packet.time_base), exc)
                continue
            for frame in frames:
                if frame.pts is None:
                    continue
                timestamp = round(frame.pts * frame.time_base * 1_000_000) + offset_us
                if isinstance(entry.encoder, VideoEncoder):
                    out += [(entry, p) for p in entry.encoder.encode(frame, timestamp)]
                elif isinstance(entry.encoder, AudioEncoder):
                    frame.pts = round(timestamp * frame.sample_rate / 1_000_000)
                    frame.time_base = Fraction(1, frame.sample_rate)
                    out += [(entry, p) for p in entry.encoder.encode(frame)]
        return out

    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        """Publish the file (again and again with ``loop``) until it ends or ``stop`` is set.

        With ``ready``, reading starts only once it is set (the relay connection is up), so a fast
        run cannot finish before anything could have been sent.
        """
        if ready is not None:
            waiting = {asyncio.ensure_future(ready.wait()), asyncio.ensure_future(stop.wait())}
            _, pending = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
        offset_us = 0
        started = time.monotonic()
        last_report = 0.0
        while not stop.is_set():
            self.container.seek(0)
            self._demuxer = self.container.demux(*[e.stream for e in self.streams.values()])
            end_us = offset_us
            while not stop.is_set():
                batch = await asyncio.to_thread(self._read_batch, offset_us)
                if batch is None:
                    break
                for entry, packet in batch:
                    timestamp = packet.timestamp_us
                    if not self.fast:
                        await asyncio.sleep(max(0.0, started + timestamp / 1_000_000 - time.monotonic()))
                    if not entry.added:
                        self._describe(entry, packet)
                        if not entry.added:
                            continue
                    self.broadcast.push(entry.name, packet)
                    end_us = max(end_us, timestamp)
                    self.position = timestamp / 1_000_000
                if self.show_progress and time.monotonic() - last_report > 0.5:
                    last_report = time.monotonic()
                    self._report(started)
            if not self.loop:
                break
            offset_us = end_us + 40_000
        if self.show_progress:
            self._report(started, final=True)

    def _report(self, started: float, final: bool = False) -> None:
        elapsed = max(1e-6, time.monotonic() - started)
        rate = self.broadcast.bytes_sent * 8 / elapsed / 1e6
        total = f" / {self.duration:.1f} s" if self.duration else ""
        line = f"{self.path.name}: {self.position:6.1f} s{total}  {rate:5.2f} Mbit/s  x{self.position / elapsed:4.1f}"
        if sys.stderr.isatty():
            print("\r" + line, end="\n" if final else "", file=sys.stderr, flush=True)
        elif final or int(elapsed) % 5 == 0:
            log.info("%s", line)

    def close(self) -> None:
        """Close the file."""
        self.container.close()
