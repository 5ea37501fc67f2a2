"""Pydantic models of the Hang catalog (``catalog.json``), in its current and draft-00 forms.

camelCase on the wire, snake_case in Python. The current form keys renditions by track name;
the draft-lcurley-moq-hang-00 form lists ``{track, config}`` entries. Unknown root sections
(application extensions) are kept; unknown keys inside sections are dropped, as the official
readers do.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from hang.catalog.types import U8, U53, Base64, Hex

#: Track priorities the official players use (moq-lite: higher is sent first).
PRIORITY_CATALOG = 100
PRIORITY_AUDIO = 80
PRIORITY_VIDEO = 60


class CatalogModel(BaseModel):
    """Base of every catalog model: camelCase aliases, population by either name."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore",
                              frozen=False, validate_assignment=True)

    def dump(self) -> dict[str, Any]:
        """The JSON-ready dict (camelCase, no unset optional fields)."""
        return self.model_dump(by_alias=True, mode="json", exclude_none=True)


class Container(CatalogModel):
    """How media frames are wrapped: ``legacy`` (timestamp + payload), ``cmaf`` or ``loc``.

    Unknown kinds are kept (the rendition is then not playable by this reader).
    """

    model_config = ConfigDict(extra="allow")

    kind: str
    #: ``cmaf`` only: the ftyp+moov initialization segment.
    init: Base64 | None = None

    @model_validator(mode="after")
    def _cmaf_needs_init(self) -> Container:
        if self.kind == "cmaf" and self.init is None:
            raise ValueError("a cmaf container needs its init segment")
        return self

    @property
    def known(self) -> bool:
        """True for the kinds this reader understands."""
        return self.kind in ("legacy", "cmaf", "loc")


class Timeline(CatalogModel):
    """A seek index track and its timescale."""

    track: str
    timescale: U53 = 1000
    #: Wall clock at timeline zero, in timescale units since 2020-01-01T00:00:00Z.
    wall: U53 | None = None


class Display(CatalogModel):
    """Size the video is meant to be shown at, in pixels."""

    width: U53
    height: U53


class VideoConfig(CatalogModel):
    """A video rendition: a WebCodecs VideoDecoderConfig plus delivery details."""

    codec: str
    container: Container | None = None
    #: avcC / hvcC / av1C; absent means parameter sets travel in band.
    description: Hex | None = None
    coded_width: U53 | None = None
    coded_height: U53 | None = None
    display_aspect_width: U53 | None = Field(default=None, validation_alias=AliasChoices(
        "displayAspectWidth", "display_aspect_width", "displayRatioWidth"))
    display_aspect_height: U53 | None = Field(default=None, validation_alias=AliasChoices(
        "displayAspectHeight", "display_aspect_height", "displayRatioHeight"))
    framerate: float | None = None
    bitrate: U53 | None = None
    optimize_for_latency: bool | None = None
    #: Milliseconds a player may wait for the next frame.
    jitter: U53 | None = None
    #: Relative reference to another broadcast carrying this rendition.
    broadcast: str | None = None
    timeline: Timeline | None = None


class AudioConfig(CatalogModel):
    """An audio rendition: a WebCodecs AudioDecoderConfig plus delivery details."""

    codec: str
    container: Container | None = None
    #: OpusHead / AudioSpecificConfig where the codec has one.
    description: Hex | None = None
    sample_rate: U53
    number_of_channels: U53
    bitrate: U53 | None = None
    jitter: U53 | None = None
    broadcast: str | None = None
    timeline: Timeline | None = None


class VideoSection(CatalogModel):
    """The video renditions of a broadcast (one content, several encodings) and how to show them."""

    renditions: dict[str, VideoConfig]
    #: Section priority: required by 2025-10..2026-02 players, ignored by later ones.
    priority: U8 | None = None
    display: Display | None = None
    rotation: float | None = None
    flip: bool | None = None


class AudioSection(CatalogModel):
    """The audio renditions of a broadcast."""

    renditions: dict[str, AudioConfig]
    priority: U8 | None = None


class _KeepsExtras(CatalogModel):
    """A root whose unknown sections survive a round trip byte for byte (nulls included)."""

    model_config = ConfigDict(extra="allow")

    def dump(self) -> dict[str, Any]:
        known = self.model_dump(by_alias=True, mode="json", exclude_none=True, exclude=set(self.model_extra or {}))
        return {**known, **(self.model_extra or {})}


class Catalog(_KeepsExtras):
    """The current (official) catalog form; extra root sections are kept as they are."""

    video: VideoSection | None = None
    audio: AudioSection | None = None


class DraftTrack(CatalogModel):
    """draft-00: a track reference."""

    name: str
    priority: U8 = 0


class DraftVideo(CatalogModel):
    """draft-00: one video track."""

    track: DraftTrack
    config: VideoConfig


class DraftAudio(CatalogModel):
    """draft-00: one audio track."""

    track: DraftTrack
    config: AudioConfig


class DraftCatalog(_KeepsExtras):
    """The draft-lcurley-moq-hang-00 form: arrays of ``{track, config}``."""

    audio: list[DraftAudio] = Field(default_factory=list)
    video: list[DraftVideo] = Field(default_factory=list)


CatalogForm = Literal["current", "draft-00"]
