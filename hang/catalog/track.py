"""The ``catalog.json`` track: each update is a new group holding one JSON snapshot."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

from hang.catalog.document import CatalogError, merge_patch, parse_catalog, to_json
from hang.catalog.models import PRIORITY_CATALOG, Catalog, CatalogForm
from hang.model.broadcast import BroadcastProducer
from hang.model.track import TrackConsumer, TrackInfo, TrackProducer

log = logging.getLogger("hang.catalog")

CATALOG_TRACK = "catalog.json"
#: Delivery properties the official publishers give the catalog track (TRACK_INFO on lite-05).
CATALOG_INFO = TrackInfo(priority=PRIORITY_CATALOG, ordered=False, max_latency_ms=5000, timescale=1000)


class CatalogProducer:
    """Publishes a broadcast's catalog; call :meth:`update` whenever it changes."""

    def __init__(self, broadcast: BroadcastProducer, catalog: Catalog | None = None,
                 form: CatalogForm = "current") -> None:
        self.track: TrackProducer = broadcast.create_track(CATALOG_TRACK, CATALOG_INFO)
        self.form = form
        self.catalog = catalog or Catalog()
        if catalog is not None:
            self.update(catalog)

    def update(self, catalog: Catalog | None = None) -> None:
        """Publish ``catalog`` (or the current one, after editing it in place) as a new group."""
        if catalog is not None:
            self.catalog = catalog
        group = self.track.append_group()
        group.write_frame(to_json(self.catalog, self.form))
        group.finish()

    def finish(self) -> None:
        """End the catalog track."""
        self.track.finish()


class CatalogConsumer:
    """Follows a catalog track: always the newest snapshot, then each live update."""

    def __init__(self, track: TrackConsumer) -> None:
        self.track = track
        self.catalog: Catalog | None = None

    async def updates(self) -> AsyncIterator[Catalog]:
        """Each catalog as it is published (merge-patch frames within a group are applied in order)."""
        while (group := await self.track.next_group(skip_after=0.0)) is not None:
            document: dict[str, object] | None = None
            while (frame := await group.read_frame()) is not None:
                try:
                    patch = json.loads(frame.payload)
                    document = patch if document is None else merge_patch(document, patch)
                    assert isinstance(document, dict)
                    self.catalog = parse_catalog(document)
                except (ValueError, AssertionError, CatalogError) as exc:
                    raise CatalogError(f"catalog group {group.sequence}: {exc}") from None
                yield self.catalog

    async def next(self) -> Catalog | None:
        """The next catalog (the newest one first), or None when the track ended."""
        async for catalog in self.updates():
            return catalog
        return None

    def close(self) -> None:
        """Stop following the catalog."""
        self.track.close()
