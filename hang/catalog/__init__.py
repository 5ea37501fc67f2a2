"""The Hang catalog: what a broadcast's media tracks are and how to decode them."""

from hang.catalog.document import CatalogError, parse_catalog, to_json
from hang.catalog.models import (
    PRIORITY_AUDIO,
    PRIORITY_CATALOG,
    PRIORITY_VIDEO,
    AudioConfig,
    AudioSection,
    Catalog,
    Container,
    VideoConfig,
    VideoSection,
)
from hang.catalog.track import CATALOG_TRACK, CatalogConsumer, CatalogProducer

__all__ = [
    "CATALOG_TRACK",
    "PRIORITY_AUDIO",
    "PRIORITY_CATALOG",
    "PRIORITY_VIDEO",
    "AudioConfig",
    "AudioSection",
    "Catalog",
    "CatalogConsumer",
    "CatalogError",
    "CatalogProducer",
    "Container",
    "VideoConfig",
    "VideoSection",
    "parse_catalog",
    "to_json",
]
