"""Reading and writing ``catalog.json`` documents in either form, with errors that name the field."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from hang.catalog.models import (
    PRIORITY_AUDIO,
    PRIORITY_VIDEO,
    AudioSection,
    Catalog,
    CatalogForm,
    DraftAudio,
    DraftCatalog,
    DraftTrack,
    DraftVideo,
    VideoSection,
)
from hang.errors import HangError

#: Largest catalog document accepted.
MAX_CATALOG_SIZE = 1024 * 1024


class CatalogError(HangError):
    """A catalog document is not valid JSON or does not match the catalog schema."""


def is_draft_form(document: dict[str, Any]) -> bool:
    """True for the draft-00 (and pre-2025-10) form: arrays, or a single legacy ``{track, config}``."""
    video, audio = document.get("video"), document.get("audio")
    return isinstance(video, list) or isinstance(audio, list) or (isinstance(audio, dict) and "track" in audio)


def parse_catalog(data: bytes | str | dict[str, Any]) -> Catalog:
    """Parse a catalog in either form into the current form."""
    document = _load(data)
    try:
        if is_draft_form(document):
            if isinstance(document.get("audio"), dict):
                document = {**document, "audio": [document["audio"]]}
            return from_draft(DraftCatalog.model_validate(document))
        return Catalog.model_validate(document)
    except ValidationError as exc:
        raise CatalogError(_describe(exc)) from None


def _load(data: bytes | str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(data, dict):
        return data
    if len(data) > MAX_CATALOG_SIZE:
        raise CatalogError(f"catalog of {len(data)} bytes exceeds {MAX_CATALOG_SIZE}")
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise CatalogError(f"catalog is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise CatalogError("catalog must be a JSON object")
    return document


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "catalog"
        parts.append(f"{where}: {error['msg']}")
    more = f" (+{exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
    return "invalid catalog: " + "; ".join(parts) + more


def to_json(catalog: Catalog, form: CatalogForm = "current") -> bytes:
    """Serialize compactly as UTF-8 JSON, in the current form or the draft-00 form."""
    document = catalog.dump() if form == "current" else to_draft(catalog).dump()
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def from_draft(draft: DraftCatalog) -> Catalog:
    """Convert the draft-00 form: each entry becomes a rendition keyed by its track name."""
    extra = dict(draft.model_extra or {})
    catalog = Catalog(**extra)
    if draft.video:
        catalog.video = VideoSection(renditions={v.track.name: v.config for v in draft.video},
                                     priority=max(v.track.priority for v in draft.video))
    if draft.audio:
        catalog.audio = AudioSection(renditions={a.track.name: a.config for a in draft.audio},
                                     priority=max(a.track.priority for a in draft.audio))
    return catalog


def to_draft(catalog: Catalog) -> DraftCatalog:
    """Convert to the draft-00 form (section priorities become per-track priorities)."""
    draft = DraftCatalog(**dict(catalog.model_extra or {}))
    if catalog.video:
        priority = catalog.video.priority if catalog.video.priority is not None else PRIORITY_VIDEO
        draft.video = [DraftVideo(track=DraftTrack(name=name, priority=priority), config=config)
                       for name, config in catalog.video.renditions.items()]
    if catalog.audio:
        priority = catalog.audio.priority if catalog.audio.priority is not None else PRIORITY_AUDIO
        draft.audio = [DraftAudio(track=DraftTrack(name=name, priority=priority), config=config)
                       for name, config in catalog.audio.renditions.items()]
    return draft


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7396 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schemas of both forms, by file name."""
    return {
        "catalog.schema.json": Catalog.model_json_schema(by_alias=True, mode="serialization"),
        "catalog-draft-00.schema.json": DraftCatalog.model_json_schema(by_alias=True, mode="serialization"),
    }
