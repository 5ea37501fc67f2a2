"""A Hang broadcast being published: its media tracks, packagers and live catalog."""

from __future__ import annotations

import time
from collections.abc import Callable

from hang.catalog import PRIORITY_AUDIO, PRIORITY_VIDEO, AudioConfig, CatalogProducer, VideoConfig
from hang.catalog.models import AudioSection, VideoSection
from hang.media.packager import AudioPackager, EncodedPacket, H264Normalizer, VideoPackager
from hang.model.broadcast import BroadcastProducer
from hang.model.track import TrackInfo

#: A new subscriber joining a group older than this gets a fresh keyframe instead of catching up.
FRESH_KEYFRAME_AFTER = 0.5


class MediaBroadcast:
    """Tracks and catalog of one broadcast; renditions are added as their configs become known."""

    def __init__(self, expect: set[str] | None = None) -> None:
        self.producer = BroadcastProducer()
        self.catalog = CatalogProducer(self.producer)
        self.packagers: dict[str, VideoPackager | AudioPackager] = {}
        self.bytes_sent = 0
        #: Renditions the first catalog waits for, so that a viewer sees the whole broadcast at once.
        self.expect = set(expect or ())

    def _publish_catalog(self) -> None:
        if self.expect <= set(self.packagers):
            self.catalog.update()

    def add_video(self, name: str, config: VideoConfig, normalizer: H264Normalizer | None = None,
                  *, on_keyframe_wanted: Callable[[], None] | None = None) -> VideoPackager:
        """Add a video rendition and publish the updated catalog."""
        track = self.producer.create_track(name, TrackInfo(priority=PRIORITY_VIDEO))
        if on_keyframe_wanted is not None:
            request = on_keyframe_wanted

            def new_consumer() -> None:
                latest = track.latest
                if latest is None or time.monotonic() - latest.created > FRESH_KEYFRAME_AFTER:
                    request()

            track.on_consume = new_consumer
        packager = VideoPackager(track, normalizer)
        self.packagers[name] = packager
        catalog = self.catalog.catalog
        if catalog.video is None:
            catalog.video = VideoSection(renditions={}, priority=PRIORITY_VIDEO)
        catalog.video.renditions[name] = config
        self._publish_catalog()
        return packager

    def add_audio(self, name: str, config: AudioConfig, group_ms: int = 0) -> AudioPackager:
        """Add an audio rendition and publish the updated catalog."""
        track = self.producer.create_track(name, TrackInfo(priority=PRIORITY_AUDIO))
        packager = AudioPackager(track, group_ms)
        self.packagers[name] = packager
        catalog = self.catalog.catalog
        if catalog.audio is None:
            catalog.audio = AudioSection(renditions={}, priority=PRIORITY_AUDIO)
        catalog.audio.renditions[name] = config
        self._publish_catalog()
        return packager

    def push(self, name: str, packet: EncodedPacket) -> None:
        """Package one packet for the rendition ``name``."""
        if self.packagers[name].push(packet):
            self.bytes_sent += len(packet.payload)

    def close(self) -> None:
        """Finish every track and end the broadcast (it is unannounced)."""
        for packager in self.packagers.values():
            packager.finish()
        self.catalog.finish()
        self.producer.close()

