"""draft-07 protocol errors close only the offending session, with the draft-07 code."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

import hang
from hang.errors import MoqtCode
from hang.relay import Relay, RelayConfig
from hang.transport.base import RecvStream, SendStream, Session
from hang.transport.quic import TlsOptions, dial
from hang.wire.framing import NEED_DATA
from hang.wire.moqt07 import (
    ALPN,
    VERSION,
    ClientSetup,
    ControlDecoder,
    ServerSetup,
    SetupParam,
    Subscribe,
    encode_control,
    varint_param,
)
from tests.conftest import client_config, url
from tests.test_loopback import next_active, publish_numbered, read_numbered

Control = tuple[Session, SendStream, RecvStream]


@contextlib.asynccontextmanager
async def raw_draft07(relay: Relay, webtransport: bool, params: dict[int, bytes] | None = None,
                      setup: bool = True) -> AsyncIterator[Control]:
    async with dial("127.0.0.1", relay.port, alpns=[ALPN], webtransport_path="/" if webtransport else None,
                    protocols=[], tls=TlsOptions([relay.fingerprint])) as session:
        send, recv = await session.open_bi()
        if setup:
            hello = ClientSetup((VERSION,), params if params is not None else {SetupParam.ROLE: varint_param(3)})
            send.write_nowait(encode_control(hello))
            decoder = ControlDecoder()
            while (reply := decoder.pull()) is NEED_DATA:
                data, fin = await recv.read()
                decoder.feed(data, fin)
            assert isinstance(reply, ServerSetup) and reply.selected_version == VERSION
            assert reply.parameters[SetupParam.MAX_SUBSCRIBE_ID] == varint_param(100)
        yield session, send, recv


def subscribe(sub_id: int, alias: int) -> bytes:
    return encode_control(Subscribe(sub_id, alias, ("room",), "t"))


async def unknown_type(send: SendStream) -> None:
    send.write_nowait(bytes.fromhex("3f04deadbeef"))


async def length_too_long(send: SendStream) -> None:
    send.write_nowait(bytes.fromhex("0a02") + b"\x00\x00")  # UNSUBSCRIBE with a trailing byte


async def truncated_payload(send: SendStream) -> None:
    send.write_nowait(bytes.fromhex("0c0601046c697665"))  # ANNOUNCE_CANCEL without code and reason


async def too_many_subscribes(send: SendStream) -> None:
    send.write_nowait(subscribe(100, 0))


async def duplicate_alias(send: SendStream) -> None:
    send.write_nowait(subscribe(0, 7) + subscribe(1, 7))


async def second_setup(send: SendStream) -> None:
    send.write_nowait(encode_control(ClientSetup((VERSION,), {SetupParam.ROLE: varint_param(3)})))


async def bad_param_length(send: SendStream) -> None:
    # SUBSCRIBE whose DELIVERY_TIMEOUT value holds two bytes that are not one varint.
    body = bytes.fromhex("0000" + "0104726f6f6d" + "0174" + "800001" + "01" + "0302" + "0102")
    send.write_nowait(bytes([0x03, len(body)]) + body)


CASES: list[tuple[Callable[[SendStream], Awaitable[None]], int]] = [
    (unknown_type, MoqtCode.PROTOCOL_VIOLATION),
    (length_too_long, MoqtCode.PROTOCOL_VIOLATION),
    (truncated_payload, MoqtCode.PROTOCOL_VIOLATION),
    (too_many_subscribes, MoqtCode.TOO_MANY_SUBSCRIBES),
    (duplicate_alias, MoqtCode.DUPLICATE_TRACK_ALIAS),
    (second_setup, MoqtCode.PROTOCOL_VIOLATION),
    (bad_param_length, MoqtCode.PARAMETER_LENGTH_MISMATCH),
]


@pytest.mark.parametrize("webtransport", [False, True], ids=["quic", "webtransport"])
@pytest.mark.parametrize(("attack", "code"), CASES, ids=[c[0].__name__ for c in CASES])
async def test_bad_control_input_closes_that_session_only(relay: Relay, webtransport: bool,
                                                          attack: Callable[[SendStream], Awaitable[None]],
                                                          code: int) -> None:
    lite = client_config(relay, hang.Version.LITE_05)
    async with hang.connect(url(relay), lite) as pub, hang.connect(url(relay), lite) as viewer:
        broadcast = hang.BroadcastProducer()
        track = broadcast.create_track("numbers")
        announcements = viewer.announced("live")
        pub.publish("live/a", broadcast.consume())
        await next_active(announcements, "live/a")
        stop = asyncio.Event()
        writer = asyncio.ensure_future(publish_numbered(track, stop))
        consumer = await viewer.subscribe("live/a", "numbers")
        async with raw_draft07(relay, webtransport) as (session, send, _):
            await attack(send)
            info = await asyncio.wait_for(session.closed, 5)
            assert info.code == code, info
        numbers = await asyncio.wait_for(read_numbered(consumer, 40), 10)
        assert numbers == list(range(numbers[0], numbers[0] + 40)), "the viewer lost frames"
        stop.set()
        await writer


@pytest.mark.parametrize("params", [{}, {SetupParam.ROLE: varint_param(9)}], ids=["no-role", "bad-role"])
async def test_setup_without_a_valid_role_is_refused(relay: Relay, params: dict[int, bytes]) -> None:
    async with raw_draft07(relay, False, setup=False) as (session, send, _):
        send.write_nowait(encode_control(ClientSetup((VERSION,), params)))
        info = await asyncio.wait_for(session.closed, 5)
        assert info.code == MoqtCode.PROTOCOL_VIOLATION


async def test_path_over_webtransport_is_refused(relay: Relay) -> None:
    async with raw_draft07(relay, True, setup=False) as (session, send, _):
        params = {SetupParam.ROLE: varint_param(3), SetupParam.PATH: b"/x"}
        send.write_nowait(encode_control(ClientSetup((VERSION,), params)))
        info = await asyncio.wait_for(session.closed, 5)
        assert info.code == MoqtCode.PROTOCOL_VIOLATION


async def test_unknown_version_only_is_refused(relay: Relay) -> None:
    async with raw_draft07(relay, False, setup=False) as (session, send, _):
        send.write_nowait(encode_control(ClientSetup((0xFF00000E,), {SetupParam.ROLE: varint_param(3)})))
        info = await asyncio.wait_for(session.closed, 5)
        assert info.code == MoqtCode.PROTOCOL_VIOLATION


async def test_path_parameter_roots_a_raw_quic_session(relay: Relay) -> None:
    config = dataclasses.replace(client_config(relay), protocol="moqt-07")
    lite = client_config(relay, hang.Version.LITE_05)
    async with hang.connect(url(relay, "moqt", "/anon"), config) as pub, hang.connect(url(relay), lite) as viewer:
        announcements = viewer.announced("anon")
        pub.publish("room/a", hang.BroadcastProducer().consume())
        await next_active(announcements, "anon/room/a")


async def test_goaway_on_relay_shutdown() -> None:
    async with Relay(RelayConfig(host="127.0.0.1", port=0)) as relay:
        config = dataclasses.replace(client_config(relay), protocol="moqt-07")
        async with hang.connect(url(relay), config) as session:
            await relay.stop()
            await asyncio.wait_for(session.going_away.wait(), 5)  # type: ignore[attr-defined]
            assert session.goaway == ""  # type: ignore[attr-defined]
