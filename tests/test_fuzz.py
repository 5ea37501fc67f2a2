"""Fuzzing every decoder a peer's bytes reach: only HangErrors escape, sizes stay capped, every call returns.

Each entry of :data:`DECODERS` is ``(name, decode)`` where ``decode(chunks)`` runs one decoder over
the bytes of one stream (or one frame / document) delivered as ``chunks`` and returns what it
decoded. The properties below run over every entry:

- random and token-built input: a result or a :class:`~hang.errors.HangError`, nothing else;
- the chunking is invisible (same result or same error class, whole or in random pieces);
- a huge length prefix followed by a few bytes is NEED_DATA or ``MessageTooLarge``, without
  allocating anything near the announced size.

To cover another codec (e.g. the draft-07 ``hang/wire/moqt07.py``), append its entries to
:data:`DECODERS`: a name and a callable taking the list of chunks.

The budget is bounded for CI: ``HANG_FUZZ_EXAMPLES`` (default 40) examples per decoder and
property; raise it for a longer local run (``HANG_FUZZ_EXAMPLES=2000 pytest tests/test_fuzz.py``).
"""

from __future__ import annotations

import json
import os
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hang.catalog.document import parse_catalog, to_json
from hang.catalog.models import Catalog
from hang.errors import HangError, MessageTooLarge
from hang.media.container import decode_frame
from hang.wire import moqt07, moqt07_data
from hang.wire.coding import encode_varint
from hang.wire.constants import ALL_VERSIONS, MAX_MESSAGE_SIZE, SetupParam, Version
from hang.wire.framing import END, NEED_DATA, StreamDecoder
from hang.wire.messages import (
    Announce,
    AnnounceInit,
    AnnounceOk,
    AnnounceRequest,
    ClientSetup,
    Fetch,
    Goaway,
    GroupHeader,
    Probe,
    ServerSetup,
    SessionInfo,
    Setup,
    Subscribe,
    SubscribeDrop,
    SubscribeEnd,
    SubscribeOk,
    SubscribeStart,
    SubscribeUpdate,
    TrackInfo,
    TrackRequest,
    subscribe_reply_class,
)

EXAMPLES = int(os.environ.get("HANG_FUZZ_EXAMPLES", "40"))
#: Bounded per example, generous enough for a loaded 2-core machine: this catches a decoder that
#: loops or allocates without bound, not a slow one.
FUZZ = settings(max_examples=EXAMPLES, deadline=timedelta(seconds=5), derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
#: Peak bytes a decoder may allocate while looking at a few input bytes (whatever length they claim).
ALLOCATION_CAP = 256 * 1024

Chunks = list[bytes]
Decoder = Callable[[Chunks], Any]

# --------------------------------------------------------------------------- the decoders


def drive(chunks: Chunks, pull: Callable[[StreamDecoder], Any], limit: int = 64) -> list[Any]:
    """Feed ``chunks`` (then FIN) and call ``pull`` until END; the units it produced, in order."""
    dec = StreamDecoder()
    pending = list(chunks)
    out: list[Any] = []
    fin = False
    while len(out) < limit:
        got = pull(dec)
        if got is END:
            break
        if got is NEED_DATA:
            assert not fin, "NEED_DATA after FIN"
            if pending:
                dec.feed(pending.pop(0))
            else:
                dec.feed(b"", fin=True)
                fin = True
            continue
        out.append(got)
    return out


def message_stream(cls: type[Any], version: Version) -> Decoder:
    """A stream of ``v(len) body`` messages of one class (announce, subscribe-update, ... streams)."""
    return lambda chunks: drive(chunks, lambda dec: dec.pull_message(cls, version))


def typed_reply_stream(version: Version) -> Decoder:
    """A subscribe stream's replies: ``v(type) msg{...}`` (03+)."""
    state: dict[str, int] = {}

    def pull(dec: StreamDecoder) -> Any:
        if "kind" not in state:
            kind = dec.pull_varint()
            if kind is END or kind is NEED_DATA:
                return kind
            assert isinstance(kind, int)
            state["kind"] = kind
        message = dec.pull_message(subscribe_reply_class(state["kind"], version), version)
        if message is not NEED_DATA:
            del state["kind"]
        return message

    def decode(chunks: Chunks) -> Any:
        state.clear()
        return drive(chunks, pull)

    return decode


def setup_exchange(cls: type[Any], version: Version) -> Decoder:
    """The ``moql`` CLIENT_SETUP / SERVER_SETUP: ``type u16(len) body``."""
    state: dict[str, bool] = {}

    def pull(dec: StreamDecoder) -> Any:
        if not state.get("typed"):
            kind = dec.pull_varint()
            if kind is END or kind is NEED_DATA:
                return kind
            state["typed"] = True
            return kind
        return dec.pull_setup_message(cls, version)

    def decode(chunks: Chunks) -> Any:
        state.clear()
        return drive(chunks, pull)

    return decode


def lite05_setup(chunks: Chunks) -> Any:
    """A lite-05 SETUP stream body, then every known parameter read as the session reads it."""
    setups = drive(chunks, lambda dec: dec.pull_message(Setup, Version.LITE_05), limit=1)
    for setup in setups:
        for key in (SetupParam.PROBE, SetupParam.ROLE, SetupParam.COST, SetupParam.ORIGIN):
            setup.varint(key)
        setup.text(SetupParam.PATH)
    return setups


def group_stream(version: Version) -> Decoder:
    """A group stream after its type: GROUP header, then frames until FIN."""
    state: dict[str, bool] = {}

    def pull(dec: StreamDecoder) -> Any:
        if not state.get("header"):
            state["header"] = True
            return dec.pull_message(GroupHeader, version)
        return dec.pull_frame(version)

    def decode(chunks: Chunks) -> Any:
        state.clear()
        return drive(chunks, pull, limit=10_000)

    return decode


def container(chunks: Chunks) -> Any:
    return decode_frame(b"".join(chunks))


def catalog(chunks: Chunks) -> Any:
    return parse_catalog(b"".join(chunks))


def draft07_control(chunks: Chunks) -> Any:
    decoder = moqt07.ControlDecoder()
    out = []
    for i, chunk in enumerate(chunks):
        decoder.feed(chunk, fin=i == len(chunks) - 1)
        while len(out) < 64 and (message := decoder.pull()) is not NEED_DATA:
            out.append(message)
    return out


def draft07_data(cloudflare: bool) -> Decoder:
    def decode(chunks: Chunks) -> Any:
        decoder = moqt07_data.DataStreamDecoder(cloudflare=cloudflare, max_object_size=1 << 20)
        out = []
        for i, chunk in enumerate(chunks):
            decoder.feed(chunk, fin=i == len(chunks) - 1)
            while len(out) < 64 and (unit := decoder.pull()) not in (NEED_DATA, END):
                out.append(unit)
        return out

    return decode


def draft07_datagram(chunks: Chunks) -> Any:
    return moqt07_data.decode_datagram(b"".join(chunks), 1 << 20)


def _applies(cls: type[Any], version: Version) -> bool:
    if cls in (SubscribeStart, SubscribeEnd, TrackRequest, TrackInfo, Fetch, Setup):
        return version >= Version.LITE_05
    if cls is SubscribeOk:
        return version < Version.LITE_05
    if cls is AnnounceInit:
        return version.uses_setup_exchange
    if cls is AnnounceOk:
        return version >= Version.LITE_05
    if cls is Goaway:
        return version >= Version.LITE_04
    return True


MESSAGE_CLASSES = [AnnounceRequest, AnnounceInit, AnnounceOk, Announce, Subscribe, SubscribeUpdate, SubscribeOk,
                   SubscribeStart, SubscribeEnd, SubscribeDrop, TrackRequest, TrackInfo, Fetch, Probe, Goaway,
                   SessionInfo, Setup]

DECODERS: list[tuple[str, Decoder]] = [
    *((f"{v.label}/{cls.__name__}", message_stream(cls, v))
      for v in ALL_VERSIONS for cls in MESSAGE_CLASSES if _applies(cls, v)),
    *((f"{v.label}/subscribe-replies", typed_reply_stream(v)) for v in ALL_VERSIONS if v >= Version.LITE_03),
    *((f"{v.label}/group-stream", group_stream(v)) for v in ALL_VERSIONS),
    ("moql/CLIENT_SETUP", setup_exchange(ClientSetup, Version.LITE_02)),
    ("moql/SERVER_SETUP", setup_exchange(ServerSetup, Version.LITE_02)),
    ("lite-05/SETUP-params", lite05_setup),
    ("hang/container", container),
    ("catalog", catalog),
    ("draft-07/control", draft07_control),
    ("draft-07/data-stream", draft07_data(False)),
    ("draft-07/data-stream-cloudflare", draft07_data(True)),
    ("draft-07/datagram", draft07_datagram),
]
#: Decoders whose input starts with a length (or count) prefix, for the huge-length property.
LENGTH_PREFIXED = [(name, d) for name, d in DECODERS if name.split("/")[0].startswith("lite-")
                   and not name.endswith("subscribe-replies")]
IDS = [name for name, _ in DECODERS]

# --------------------------------------------------------------------------- inputs

U62_EDGES = [0, 1, 63, 64, 16383, 16384, (1 << 30) - 1, 1 << 30, (1 << 62) - 1]
varints = st.one_of(st.integers(0, 300), st.sampled_from(U62_EDGES), st.integers(0, (1 << 62) - 1))
tokens = st.one_of(
    varints.map(encode_varint),
    st.text(max_size=12).map(lambda s: encode_varint(len(s.encode())) + s.encode()),
    st.binary(max_size=12),
    st.sampled_from([b"\x00", b"\x01", b"\xff", b"\xc0\x00\x00\x00\xff\x0d\xad\x05", b"\x80\x00\x4e\x20"]),
)
#: Bytes built from plausible pieces (varints, strings), which get deeper into decoders than noise.
token_bytes = st.lists(tokens, max_size=12).map(b"".join)
fuzz_bytes = st.one_of(st.binary(max_size=96), token_bytes)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
CATALOG_KEYS = ["video", "audio", "renditions", "codec", "codedWidth", "codedHeight", "sampleRate",
                "numberOfChannels", "priority", "container", "track", "config", "name", "description", "bitrate"]
catalog_like = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 100_000) | st.text(max_size=10)
    | st.sampled_from(["opus", "avc1.64001f"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(CATALOG_KEYS), inner, max_size=5),
    max_leaves=25,
)
VALID_CATALOG = to_json(Catalog.model_validate(
    {"video": {"renditions": {"video": {"codec": "avc1.64001f", "codedWidth": 640, "codedHeight": 360}}},
     "audio": {"renditions": {"audio": {"codec": "opus", "sampleRate": 48000, "numberOfChannels": 2}}}}))


def outcome(decoder: Decoder, chunks: Chunks) -> Any:
    """What a decoder made of the input: its result, or the class of the HangError it raised."""
    try:
        return ("ok", decoder(chunks))
    except HangError as exc:
        return ("error", type(exc))


def split(data: bytes, cuts: list[int]) -> Chunks:
    points = sorted({c for c in cuts if 0 < c < len(data)})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


# --------------------------------------------------------------------------- properties


@pytest.mark.parametrize("decoder", [d for _, d in DECODERS], ids=IDS)
@FUZZ
@given(data=fuzz_bytes)
def test_arbitrary_bytes_only_raise_hang_errors(decoder: Decoder, data: bytes) -> None:
    outcome(decoder, [data])


@pytest.mark.parametrize("decoder", [d for _, d in DECODERS], ids=IDS)
@FUZZ
@given(data=fuzz_bytes, cuts=st.lists(st.integers(1, 95), max_size=8))
def test_chunking_is_invisible(decoder: Decoder, data: bytes, cuts: list[int]) -> None:
    assert outcome(decoder, split(data, cuts)) == outcome(decoder, [data])


@pytest.mark.parametrize("decoder", [d for _, d in LENGTH_PREFIXED], ids=[n for n, _ in LENGTH_PREFIXED])
@pytest.mark.parametrize("length", [MAX_MESSAGE_SIZE + 1, 1 << 30, (1 << 62) - 1], ids=["cap+1", "2^30", "2^62-1"])
def test_huge_length_prefix_is_refused_without_allocating(decoder: Decoder, length: int) -> None:
    """A 2^62 length prefix (or count) and 10 bytes: MessageTooLarge or a decode error, never a big allocation."""
    data = encode_varint(length) + bytes(10)
    tracemalloc.start()
    try:
        result = outcome(decoder, [data])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result[0] == "error", result
    assert peak < ALLOCATION_CAP, f"{peak} bytes allocated for a {len(data)}-byte input"


@pytest.mark.parametrize("length", [(1 << 62) - 1, 1 << 40, MAX_MESSAGE_SIZE + 1])
@pytest.mark.parametrize("version", ALL_VERSIONS, ids=lambda v: v.label)
def test_huge_length_on_an_open_stream_is_need_data_or_too_large(version: Version, length: int) -> None:
    """Before FIN: each pull answers at once, NEED_DATA or MessageTooLarge, and buffers only what came."""
    pulls: list[Callable[[StreamDecoder], Any]] = [
        lambda dec: dec.pull_message(Subscribe, version),
        lambda dec: dec.pull_frame(version),
        lambda dec: dec.pull_setup_message(ClientSetup, version),
    ]
    for i, pull in enumerate(pulls):
        dec = StreamDecoder()
        delta = b"\x00" if i == 1 and version >= Version.LITE_05 else b""  # 05 frames start with a timestamp
        dec.feed(delta + encode_varint(length) + bytes(10))
        tracemalloc.start()
        try:
            try:
                assert pull(dec) is NEED_DATA
            except MessageTooLarge:
                pass
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert dec.buffered <= 19 and peak < ALLOCATION_CAP


@FUZZ
@given(document=st.dictionaries(st.sampled_from(CATALOG_KEYS), catalog_like, max_size=4))
def test_catalog_shaped_documents_only_raise_hang_errors(document: dict[str, Any]) -> None:
    outcome(catalog, [json.dumps(document).encode()])


@FUZZ
@given(document=json_values)
def test_any_json_catalog_only_raises_hang_errors(document: Any) -> None:
    outcome(catalog, [json.dumps(document).encode()])


@FUZZ
@given(data=st.data())
def test_mutated_catalog_only_raises_hang_errors(data: st.DataObject) -> None:
    raw = bytearray(VALID_CATALOG)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    outcome(catalog, [bytes(raw)])


def test_deeply_nested_catalog_is_a_catalog_error() -> None:
    from hang.catalog.document import CatalogError

    with pytest.raises(CatalogError):
        parse_catalog(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(CatalogError):
        parse_catalog(b'{"video":' * 50_000 + b"1" + b"}" * 50_000)


def test_setup_varint_parameter_errors_are_decode_errors() -> None:
    from hang.errors import DecodeError

    for raw in (b"", b"\x40", b"\xc0\x00"):
        with pytest.raises(DecodeError):
            Setup({SetupParam.ORIGIN: raw}).varint(SetupParam.ORIGIN)
