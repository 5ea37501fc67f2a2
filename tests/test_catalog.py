"""Catalog models: both forms, strict field types, field-naming errors, schemas, and the live catalog track."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import hang
from hang.catalog import (
    AudioConfig,
    AudioSection,
    Catalog,
    CatalogConsumer,
    CatalogError,
    CatalogProducer,
    Container,
    VideoConfig,
    VideoSection,
    parse_catalog,
    to_json,
)
from hang.catalog.document import json_schemas
from hang.cli.schema import render

SAFE_EXAMPLE = {  # hang-format.md section 6, accepted by @moq/hang 0.3.5 and moq-ffi 0.4.18
    "video": {"renditions": {"video/hd": {
        "codec": "avc1.42c00d",
        "description": "0142c00dffe100156742c00dda0507e840000003004000000f23c50aa801000468ce0fc8",
        "codedWidth": 320, "codedHeight": 240, "framerate": 30, "bitrate": 500000}}, "priority": 60},
    "audio": {"renditions": {"audio/data": {
        "codec": "opus", "sampleRate": 48000, "numberOfChannels": 2, "bitrate": 64000}}, "priority": 80},
}

MOQ_FFI_CATALOG = (  # hang-format.md section 5, written by the official Rust publisher
    '{"video":{"renditions":{"video":{"codec":"avc3.42c00d","codedWidth":320,"codedHeight":240,"bitrate":500000,'
    '"framerate":30.0,"container":{"kind":"legacy"}}}},"audio":{"renditions":{"audio":{"codec":"opus",'
    '"sampleRate":48000,"numberOfChannels":2,"description":"4f707573486561640102380180bb0000000000",'
    '"container":{"kind":"legacy"}}}},"archive":{"track":"timeline.z","timescale":1000},'
    '"clock":{"wall":217431780097961,"timescale":1000000}}'
)

DRAFT_00 = {
    "video": [{"track": {"name": "video", "priority": 2}, "config": {
        "codec": "avc1.64001f", "codedWidth": 1280, "codedHeight": 720, "bitrate": 6000000, "framerate": 30.0}}],
    "audio": [{"track": {"name": "audio", "priority": 1}, "config": {
        "codec": "opus", "sampleRate": 48000, "numberOfChannels": 2, "bitrate": 128000}}],
    "chat": {"track": "chat"},
}


def test_current_form_round_trip_keeps_unknown_root_sections() -> None:
    catalog = parse_catalog(MOQ_FFI_CATALOG)
    assert catalog.video is not None and catalog.audio is not None
    video = catalog.video.renditions["video"]
    assert (video.codec, video.coded_width, video.framerate) == ("avc3.42c00d", 320, 30.0)
    assert video.container == Container(kind="legacy")
    audio = catalog.audio.renditions["audio"]
    assert audio.description == bytes.fromhex("4f707573486561640102380180bb0000000000")
    assert catalog.model_extra == {"archive": {"track": "timeline.z", "timescale": 1000},
                                   "clock": {"wall": 217431780097961, "timescale": 1000000}}
    assert json.loads(to_json(catalog)) == json.loads(MOQ_FFI_CATALOG)


def test_snake_case_in_python_camel_case_on_the_wire() -> None:
    catalog = Catalog(audio=AudioSection(renditions={"a": AudioConfig(codec="opus", sample_rate=48000,
                                                                      number_of_channels=2)}, priority=80))
    assert json.loads(to_json(catalog)) == {
        "audio": {"renditions": {"a": {"codec": "opus", "sampleRate": 48000, "numberOfChannels": 2}}, "priority": 80}}


def test_description_is_lowercase_hex_both_ways() -> None:
    catalog = parse_catalog({"video": {"renditions": {"v": {"codec": "avc1.42c00d", "description": "0142C0FF"}}}})
    assert catalog.video is not None
    assert catalog.video.renditions["v"].description == b"\x01\x42\xc0\xff"
    assert b'"description":"0142c0ff"' in to_json(catalog)


def test_draft_00_form_is_detected_and_converted() -> None:
    catalog = parse_catalog(json.dumps(DRAFT_00))
    assert catalog.video is not None and catalog.audio is not None
    assert catalog.video.renditions["video"].coded_width == 1280
    assert (catalog.video.priority, catalog.audio.priority) == (2, 1)
    assert catalog.model_extra == {"chat": {"track": "chat"}}
    # Written back in the draft form on request, unchanged.
    assert json.loads(to_json(catalog, "draft-00")) == DRAFT_00


def test_legacy_single_audio_object_is_read() -> None:
    legacy = {"audio": {"track": {"name": "a", "priority": 1},
                        "config": {"codec": "opus", "sampleRate": 48000, "numberOfChannels": 1}}}
    catalog = parse_catalog(legacy)
    assert catalog.audio is not None and catalog.audio.renditions["a"].number_of_channels == 1


@pytest.mark.parametrize(("document", "field"), [
    ({"audio": {"renditions": {"a": {"codec": "opus", "sampleRate": "48000", "numberOfChannels": 2}}}},
     "audio.renditions.a.sampleRate"),
    ({"audio": {"renditions": {"a": {"codec": "opus", "sampleRate": 48000}}}}, "audio.renditions.a.numberOfChannels"),
    ({"video": {"renditions": {"v": {"codec": "vp8", "bitrate": 1.5}}}}, "video.renditions.v.bitrate"),
    ({"video": {"renditions": {"v": {"codec": "vp8", "description": "0a1"}}}}, "video.renditions.v.description"),
    ({"video": {"renditions": {"v": {"codec": "vp8", "description": "AQI="}}}}, "video.renditions.v.description"),
    ({"video": {"renditions": {"v": {"codec": "vp8", "container": "legacy"}}}}, "video.renditions.v.container"),
    ({"video": {"renditions": {"v": {"codec": "vp8", "container": {"kind": "cmaf"}}}}},
     "video.renditions.v.container"),
    ({"video": {}}, "video.renditions"),
    ({"video": {"renditions": {}, "priority": 300}}, "video.priority"),
])
def test_validation_errors_name_the_field(document: dict[str, object], field: str) -> None:
    with pytest.raises(CatalogError, match=field.replace(".", r"\.")):
        parse_catalog(document)


def test_not_json_and_not_an_object() -> None:
    with pytest.raises(CatalogError, match="not JSON"):
        parse_catalog(b"{nope")
    with pytest.raises(CatalogError, match="JSON object"):
        parse_catalog(b"[1, 2]")


def test_containers() -> None:
    cmaf = parse_catalog({"video": {"renditions": {"v": {"codec": "avc1.42c00d",
                                                         "container": {"kind": "cmaf", "init": "AAECAw=="}}}}})
    assert cmaf.video is not None
    container = cmaf.video.renditions["v"].container
    assert container is not None and container.init == b"\x00\x01\x02\x03" and container.known
    assert b'"init":"AAECAw=="' in to_json(cmaf)
    future = parse_catalog({"video": {"renditions": {"v": {"codec": "vp8", "container": {"kind": "quic-v2", "x": 1}}}}})
    assert future.video is not None
    kept = future.video.renditions["v"].container
    assert kept is not None and not kept.known and kept.model_extra == {"x": 1}


def test_committed_schemas_equal_what_the_models_generate() -> None:
    folder = Path(__file__).parent.parent / "catalog_schemas"
    for name, schema in json_schemas().items():
        assert (folder / name).read_text() == render(schema), f"run `hang schema` to refresh {name}"


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=20))
def test_any_json_is_a_catalog_or_a_catalog_error(document: object) -> None:
    try:
        catalog = parse_catalog(json.dumps(document))
    except CatalogError:
        return
    assert parse_catalog(to_json(catalog)) == catalog


@given(st.binary(max_size=64))
def test_random_bytes_are_a_catalog_error(data: bytes) -> None:
    try:
        parse_catalog(data)
    except CatalogError:
        pass


def sample_catalog(width: int) -> Catalog:
    return Catalog(video=VideoSection(renditions={"video": VideoConfig(codec="vp8", coded_width=width)}))


async def test_catalog_track_newest_snapshot_then_live_updates() -> None:
    broadcast = hang.BroadcastProducer()
    producer = CatalogProducer(broadcast, sample_catalog(320))
    producer.update(sample_catalog(640))
    consumer = CatalogConsumer(await broadcast.consume().subscribe("catalog.json"))
    updates = consumer.updates()
    first = await asyncio.wait_for(updates.__anext__(), 1)
    assert first.video is not None and first.video.renditions["video"].coded_width == 640
    producer.catalog.audio = AudioSection(renditions={"audio": AudioConfig(codec="opus", sample_rate=48000,
                                                                           number_of_channels=2)})
    producer.update()
    second = await asyncio.wait_for(updates.__anext__(), 1)
    assert second.audio is not None and "audio" in second.audio.renditions
    # Each update is one group holding exactly one frame.
    assert [len(g.frames) for g in producer.track.groups] == [1, 1, 1]


async def test_catalog_merge_patch_frames_are_applied() -> None:
    broadcast = hang.BroadcastProducer()
    track = broadcast.create_track("catalog.json")
    group = track.append_group()
    group.write_frame(to_json(sample_catalog(320)))
    group.write_frame(b'{"video":{"renditions":{"video":{"codedWidth":1280}}},"extra":{"a":1}}')
    group.write_frame(b'{"extra":null}')
    group.finish()
    consumer = CatalogConsumer(await broadcast.consume().subscribe("catalog.json"))
    seen = [c async for c in _take(consumer.updates(), 3)]
    assert [c.video.renditions["video"].coded_width for c in seen if c.video] == [320, 1280, 1280]
    assert seen[1].model_extra == {"extra": {"a": 1}} and seen[2].model_extra == {}


async def _take(iterator, count):  # type: ignore[no-untyped-def]
    for _ in range(count):
        yield await asyncio.wait_for(iterator.__anext__(), 1)


async def test_catalog_updates_reach_a_subscriber_through_the_relay(relay: Any) -> None:
    from tests.conftest import client_config, url

    config = client_config(relay)
    async with hang.connect(url(relay), config) as pub, hang.connect(url(relay), config) as sub:
        broadcast = hang.BroadcastProducer()
        producer = CatalogProducer(broadcast, sample_catalog(320))
        pub.publish("room/cat.hang", broadcast.consume())
        async for item in sub.announced("room"):
            if item.path == "room/cat.hang":
                break
        consumer = CatalogConsumer(await sub.subscribe("room/cat.hang", "catalog.json"))
        updates = consumer.updates()
        first = await asyncio.wait_for(updates.__anext__(), 5)
        assert first.video is not None and first.video.renditions["video"].coded_width == 320
        producer.update(sample_catalog(1280))  # a resolution change
        second = await asyncio.wait_for(updates.__anext__(), 5)
        assert second.video is not None and second.video.renditions["video"].coded_width == 1280
        producer.catalog.audio = AudioSection(renditions={"audio": AudioConfig(  # a track added
            codec="opus", sample_rate=48000, number_of_channels=2)})
        producer.update()
        third = await asyncio.wait_for(updates.__anext__(), 5)
        assert third.audio is not None and list(third.audio.renditions) == ["audio"]
