"""Live pipelines: a source's frames through an encoder (off the event loop) into a broadcast rendition."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from hang.media.capture import EndOfTrack, MediaSource
from hang.media.describe import audio_config, video_config
from hang.media.encode import AudioEncoder, VideoEncoder
from hang.media.packager import H264Normalizer
from hang.publish.broadcast import MediaBroadcast

log = logging.getLogger("hang.publish")


async def frames(source: MediaSource, stop: asyncio.Event) -> AsyncIterator[Any]:
    """The source's frames until it ends or ``stop`` is set; the device is released either way."""
    try:
        while not stop.is_set():
            try:
                yield await source.recv()
            except EndOfTrack:
                return
    finally:
        source.stop()


async def pump_video(source: MediaSource, encoder: VideoEncoder, broadcast: MediaBroadcast, name: str,
                     stop: asyncio.Event) -> None:
    """Encode video frames until the source ends or ``stop`` is set; the rendition appears at the first keyframe."""
    added = False
    normalizer = H264Normalizer("avc3") if encoder.codec == "h264" else None
    async for frame in frames(source, stop):
        for packet in await asyncio.to_thread(encoder.encode, frame, frame.pts):
            if not added:
                if not packet.keyframe:
                    continue
                config = video_config(encoder.codec, packet.payload, width=frame.width, height=frame.height,
                                      framerate=encoder.framerate, bitrate=encoder.bitrate)
                broadcast.add_video(name, config, normalizer, on_keyframe_wanted=encoder.request_keyframe)
                added = True
            broadcast.push(name, packet)


async def pump_audio(source: MediaSource, encoder: AudioEncoder, broadcast: MediaBroadcast, name: str,
                     stop: asyncio.Event, group_ms: int = 0) -> None:
    """Encode audio frames until the source ends or ``stop`` is set."""
    config = audio_config(encoder.codec, sample_rate=encoder.sample_rate, channels=encoder.channels,
                          bitrate=encoder.context.bit_rate, extradata=encoder.extradata)
    broadcast.add_audio(name, config, group_ms)
    async for frame in frames(source, stop):
        for packet in await asyncio.to_thread(encoder.encode, frame):
            broadcast.push(name, packet)
