"""Interop with aiomoqt 0.1.7 (PyPI), a third-party IETF MoQ Transport draft-07 client, through our relay.

aiomoqt only speaks WebTransport: ``MOQTClientProtocol.initialize()`` always sends an extended
CONNECT over ALPN ``h3``, so there is no raw QUIC (``moq-00``) case. Its control plane is what it
implements: CLIENT_SETUP / SERVER_SETUP, ANNOUNCE, SUBSCRIBE_ANNOUNCES, SUBSCRIBE, UNSUBSCRIBE,
UNANNOUNCE. It does not decode data streams; the test reads the objects its HTTP/3 layer receives
with aiomoqt's own ``StreamHeaderSubgroup`` / ``StreamObject`` decoders.

What aiomoqt 0.1.7 needs to work at all, and what the test does about it:

- Its HTTP/3 layer sends SETTINGS_H3_DATAGRAM=1, but its default QUIC configuration has no
  ``max_datagram_frame_size``; a conforming HTTP/3 peer (RFC 9297, aioquic in our relay) closes with
  H3_SETTINGS_ERROR. We pass a configuration with datagrams enabled (and our certificate as CA, so
  TLS is verified instead of aiomoqt's default ``CERT_NONE``).
- Its CLIENT_SETUP carries no parameters, but draft-07 requires ROLE (removed only in draft-08) and
  the relay refuses the session (``test_client_setup_without_role_is_refused``). The other tests add
  ROLE = PubSub to aiomoqt's ``ClientSetup`` and check that the bytes it then sends are the
  reference CLIENT_SETUP.
- It parses one control message per QUIC STREAM frame and drops the rest of the frame. The
  observer below splits the control stream by Type and Length and hands each message to aiomoqt's
  own parser, recording what it parsed (and what it could not).
- Its SUBSCRIBE_DONE decoder uses the draft-08 layout (Stream Count, no ContentExists): it misreads a
  draft-07 SUBSCRIBE_DONE, and fails on one with a reason phrase. The test decodes that one itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiomoqt.client
import pytest
from aiomoqt.client import MOQTClient, MOQTClientProtocol
from aiomoqt.messages.announce import Announce, AnnounceOk, SubscribeAnnouncesOk
from aiomoqt.messages.base import MOQTMessage, MOQTMessageHandler
from aiomoqt.messages.data import StreamHeaderSubgroup, StreamObject
from aiomoqt.messages.setup import ClientSetup, ServerSetup
from aiomoqt.messages.subscribe import SubscribeOk
from aiomoqt.types import GroupOrder, MOQTMessageType, ObjectStatus, SetupParamType, StreamType
from aioquic.buffer import Buffer, BufferReadError
from aioquic.h3.connection import H3_ALPN
from aioquic.h3.events import H3Event, WebTransportStreamDataReceived
from aioquic.quic.configuration import QuicConfiguration

import hang
from hang.relay import Relay, RelayConfig
from hang.transport import tls
from tests.test_loopback import next_active

DRAFT_07 = 0xFF000007
PATH = "moq"
#: CLIENT_SETUP offering only draft-07 with ROLE = PubSub (the reference bytes of the draft-07 notes).
CLIENT_SETUP_WITH_ROLE = bytes.fromhex("40400d01c0000000ff00000701000103")
#: What stock aiomoqt sends: draft-07 only, no parameters.
CLIENT_SETUP_STOCK = bytes.fromhex("40400a01c0000000ff00000700")
PAYLOADS = [b"hello", b"from", b"hang"]

M = TypeVar("M", bound=MOQTMessage)


@dataclass
class Observer:
    """Everything one aiomoqt session sent and received, recorded from its own hooks."""

    protocol: MOQTClientProtocol
    sent: list[bytes] = field(default_factory=list)
    #: Complete control messages as received (Type, Length, Payload).
    frames: list[bytes] = field(default_factory=list)
    #: What aiomoqt's parser made of each frame, in order.
    messages: list[MOQTMessage] = field(default_factory=list)
    #: Frames aiomoqt's parser refused: (message type, frame, error).
    refused: list[tuple[int, bytes, Exception]] = field(default_factory=list)
    #: Bytes of every WebTransport data stream, and whether it ended.
    streams: dict[int, bytearray] = field(default_factory=dict)
    ended: set[int] = field(default_factory=set)
    _pending: bytearray = field(default_factory=bytearray)

    def __post_init__(self) -> None:
        protocol = self.protocol
        parse = protocol.message_handler.handle_control_message
        send = protocol.send_control_message
        h3_event = protocol._h3_event_received

        def on_control(data: bytes) -> None:
            self._pending += data
            while True:
                buf = Buffer(data=bytes(self._pending))
                try:
                    kind = buf.pull_uint_var()
                    buf.pull_bytes(buf.pull_uint_var())
                except BufferReadError:
                    return
                frame = bytes(self._pending[: buf.tell()])
                del self._pending[: buf.tell()]
                self.frames.append(frame)
                try:
                    self.messages.append(parse(frame))
                except Exception as exc:  # aiomoqt logs and re-raises its decoding errors
                    self.refused.append((kind, frame, exc))

        def on_send(data: bytes) -> None:
            self.sent.append(bytes(data))
            send(data)

        def on_h3_event(event: H3Event) -> None:
            if isinstance(event, WebTransportStreamDataReceived) and event.session_id == protocol._session_id:
                self.streams.setdefault(event.stream_id, bytearray()).extend(event.data)
                if event.stream_ended:
                    self.ended.add(event.stream_id)
            h3_event(event)

        protocol.message_handler.handle_control_message = on_control
        protocol.send_control_message = on_send
        protocol._h3_event_received = on_h3_event

    async def expect(self, kind: type[M], timeout: float = 5, **fields: Any) -> M:
        """The first received ``kind`` message whose attributes equal ``fields``."""
        async with asyncio.timeout(timeout):
            while True:
                for message in self.messages:
                    if isinstance(message, kind) and all(getattr(message, k) == v for k, v in fields.items()):
                        return message
                await asyncio.sleep(0.01)

    async def expect_frame(self, message_type: int, timeout: float = 5) -> bytes:
        """The first received control message of ``message_type``, raw."""
        async with asyncio.timeout(timeout):
            while True:
                for frame in self.frames:
                    if Buffer(data=frame).pull_uint_var() == message_type:
                        return frame
                await asyncio.sleep(0.01)

    def subgroups(self) -> dict[int, tuple[StreamHeaderSubgroup, list[StreamObject]]]:
        """Ended subgroup streams decoded with aiomoqt's data classes, by group id."""
        groups: dict[int, tuple[StreamHeaderSubgroup, list[StreamObject]]] = {}
        for stream_id in self.ended:
            buf = Buffer(data=bytes(self.streams[stream_id]))
            assert buf.pull_uint_var() == StreamType.STREAM_HEADER_SUBGROUP
            header = StreamHeaderSubgroup.deserialize(buf)
            objects = []
            while not buf.eof():
                objects.append(StreamObject.deserialize(buf))
            groups[header.group_id] = header, objects
        return groups


class ClientSetupWithRole(ClientSetup):
    """aiomoqt's CLIENT_SETUP plus the ROLE parameter draft-07 requires (PubSub)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.parameters = {SetupParamType.CLIENT_ROLE: b"\x03", **(self.parameters or {})}


@pytest.fixture
def with_role(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aiomoqt.client, "ClientSetup", ClientSetupWithRole)


@pytest.fixture
def cert(tmp_path: Path) -> tls.Certificate:
    return tls.generate(tmp_path)


@pytest.fixture
async def relay(cert: tls.Certificate) -> AsyncIterator[Relay]:
    """Our relay with a certificate aiomoqt can verify."""
    async with Relay(RelayConfig(host="127.0.0.1", port=0, certfile=cert.certfile, keyfile=cert.keyfile)) as running:
        yield running


@asynccontextmanager
async def aiomoqt_session(relay: Relay, cert: tls.Certificate) -> AsyncIterator[Observer]:
    """An aiomoqt WebTransport connection to https://127.0.0.1:PORT/moq (MOQT setup not yet run)."""
    configuration = QuicConfiguration(alpn_protocols=H3_ALPN, is_client=True, max_datagram_frame_size=65536)
    configuration.load_verify_locations(cafile=str(cert.certfile))
    client = MOQTClient("127.0.0.1", relay.port, endpoint=PATH, configuration=configuration)
    async with client.connect() as protocol:
        yield Observer(protocol)


def our_client(relay: Relay) -> Any:
    config = hang.ClientConfig(fingerprints=[relay.fingerprint], timeout=5, protocol="moqt-07")
    return hang.connect(f"https://127.0.0.1:{relay.port}/{PATH}", config)


async def setup(observer: Observer) -> ServerSetup:
    await asyncio.wait_for(observer.protocol.initialize(), 10)
    assert observer.sent[0] == CLIENT_SETUP_WITH_ROLE
    reply = await observer.expect(ServerSetup)
    assert reply.selected_version == DRAFT_07
    assert reply.parameters[SetupParamType.CLIENT_ROLE] == b"\x03"
    assert reply.parameters[SetupParamType.MAX_SUBSCRIBER_ID] == 100
    assert SetupParamType.ENDPOINT_PATH not in reply.parameters
    return reply


async def test_client_setup_without_role_is_refused(relay: Relay, cert: tls.Certificate,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="hang.relay")
    async with aiomoqt_session(relay, cert) as observer:
        setup_task = asyncio.ensure_future(observer.protocol.initialize())
        try:
            await asyncio.wait_for(observer.protocol.wait_closed(), 5)
        finally:
            setup_task.cancel()
            with suppress(asyncio.CancelledError, TimeoutError):
                await setup_task
        assert observer.sent == [CLIENT_SETUP_STOCK]
        assert observer.frames == [], "no SERVER_SETUP for a CLIENT_SETUP without ROLE"
        closed = observer.protocol._quic._close_event
        assert closed is not None and closed.reason_phrase == "handshake failed"
    assert "missing or invalid ROLE" in caplog.text


@pytest.mark.usefixtures("with_role")
async def test_setup_announce_and_subscribe_announces(relay: Relay, cert: tls.Certificate) -> None:
    async with our_client(relay) as ours, aiomoqt_session(relay, cert) as observer:
        client = observer.protocol
        await setup(observer)

        # ANNOUNCE -> ANNOUNCE_OK; the relay routes the namespace to other sessions.
        announcements = ours.announced("interop")
        client.announce("interop/aiomoqt")
        await observer.expect(AnnounceOk, namespace=(b"interop", b"aiomoqt"))
        await next_active(announcements, "interop/aiomoqt")

        # A broadcast published before SUBSCRIBE_ANNOUNCES is replayed after the OK ...
        early = hang.BroadcastProducer()
        ours.publish("prefix/early", early.consume())
        await asyncio.sleep(0.2)
        client.subscribe_announces("prefix")
        ok = await observer.expect(SubscribeAnnouncesOk, namespace_prefix=(b"prefix",))
        replayed = await observer.expect(Announce, namespace=(b"prefix", b"early"))
        assert observer.messages.index(ok) < observer.messages.index(replayed)
        client.send_control_message(AnnounceOk(namespace=replayed.namespace).serialize())

        # ... and one published later is forwarded.
        late = hang.BroadcastProducer()
        ours.publish("prefix/late", late.consume())
        forwarded = await observer.expect(Announce, namespace=(b"prefix", b"late"))
        assert forwarded.parameters == {}
        client.send_control_message(AnnounceOk(namespace=forwarded.namespace).serialize())

        # Nothing outside the prefix.
        other = hang.BroadcastProducer()
        ours.publish("other/y", other.consume())
        await asyncio.sleep(0.2)
        announced = {m.namespace for m in observer.messages if isinstance(m, Announce)}
        assert announced == {(b"prefix", b"early"), (b"prefix", b"late")}

        # aiomoqt sent no MAX_SUBSCRIBE_ID (default 0): the relay must not forward a SUBSCRIBE to it.
        pending = asyncio.ensure_future(ours.subscribe("interop/aiomoqt", "t"))
        await asyncio.sleep(0.5)
        assert not any(frame[0] == MOQTMessageType.SUBSCRIBE for frame in observer.frames)
        pending.cancel()
        with suppress(asyncio.CancelledError):
            await pending

        # UNANNOUNCE withdraws aiomoqt's namespace from the relay.
        client.unannounce((b"interop", b"aiomoqt"))
        await next_active(announcements, "interop/aiomoqt", active=False)
        assert observer.refused == []


async def subscribe_and_receive(ours: Any, observer: Observer) -> None:
    """Our client publishes prefix/x; aiomoqt SUBSCRIBEs to its track "chat" and gets three groups."""
    client = observer.protocol
    broadcast = hang.BroadcastProducer()
    track = broadcast.create_track("chat")
    ours.publish("prefix/x", broadcast.consume())
    client.subscribe_announces("prefix")
    await observer.expect(Announce, namespace=(b"prefix", b"x"))

    client.subscribe("prefix/x", "chat", subscribe_id=1, track_alias=7, group_order=GroupOrder.ASCENDING)
    ok = await observer.expect(SubscribeOk, subscribe_id=1)
    assert (ok.expires, ok.group_order, ok.content_exists) == (0, GroupOrder.ASCENDING, 0)

    for payload in PAYLOADS:
        group = track.append_group()
        group.write_frame(payload)
        group.finish()
    async with asyncio.timeout(5):
        while len(observer.ended) < len(PAYLOADS):
            await asyncio.sleep(0.01)
    groups = observer.subgroups()
    assert sorted(groups) == [0, 1, 2]
    for number, payload in enumerate(PAYLOADS):
        header, objects = groups[number]
        assert (header.track_alias, header.subgroup_id) == (7, 0)
        assert [(o.object_id, o.payload, o.status) for o in objects] == [
            (0, payload, None), (1, b"", ObjectStatus.END_OF_GROUP)]


def subscribe_done(frame: bytes) -> tuple[int, int, str, tuple[int, int] | None]:
    """A draft-07 SUBSCRIBE_DONE (aiomoqt decodes the draft-08 layout): id, status, reason, final."""
    buf = Buffer(data=frame)
    assert buf.pull_uint_var() == MOQTMessageType.SUBSCRIBE_DONE
    assert buf.pull_uint_var() == len(frame) - buf.tell()
    subscribe_id, status = buf.pull_uint_var(), buf.pull_uint_var()
    reason = buf.pull_bytes(buf.pull_uint_var()).decode()
    final = (buf.pull_uint_var(), buf.pull_uint_var()) if buf.pull_uint8() else None
    assert buf.eof(), frame.hex()
    return subscribe_id, status, reason, final


@pytest.mark.usefixtures("with_role")
async def test_subscribe_to_our_track(relay: Relay, cert: tls.Certificate) -> None:
    async with our_client(relay) as ours, aiomoqt_session(relay, cert) as observer:
        await setup(observer)
        await subscribe_and_receive(ours, observer)
        observer.protocol.unsubscribe(1)
        done = subscribe_done(await observer.expect_frame(MOQTMessageType.SUBSCRIBE_DONE))
        assert done[:2] == (1, 0), done  # Unsubscribed
        assert observer.refused == []


@pytest.mark.usefixtures("with_role")
async def test_subscribe_done_after_unsubscribe_reports_final_object(relay: Relay, cert: tls.Certificate) -> None:
    # draft-07 SUBSCRIBE_DONE: ContentExists is 1 once an object was published for the subscription,
    # Final Group / Object the largest ids sent: here group 2, object 0 (1 counting the End of Group).
    async with our_client(relay) as ours, aiomoqt_session(relay, cert) as observer:
        await setup(observer)
        await subscribe_and_receive(ours, observer)
        observer.protocol.unsubscribe(1)
        _, _, _, final = subscribe_done(await observer.expect_frame(MOQTMessageType.SUBSCRIBE_DONE))
        assert final in ((2, 0), (2, 1)), final


def test_observer_reframes_coalesced_messages() -> None:
    """The observer hands aiomoqt one message at a time even when a STREAM frame holds several."""

    class Stub:
        def __init__(self) -> None:
            self.message_handler = MOQTMessageHandler(self)
            self._session_id = 0

        def send_control_message(self, data: bytes) -> None:
            pass

        def _h3_event_received(self, event: H3Event) -> None:
            pass

    observer = Observer(Stub())  # type: ignore[arg-type]
    on_control: Callable[[bytes], None] = observer.protocol.message_handler.handle_control_message
    two = AnnounceOk(namespace=(b"a",)).serialize() + SubscribeAnnouncesOk(namespace_prefix=(b"b",)).serialize()
    on_control(two[:3])
    on_control(two[3:])
    assert observer.messages == [AnnounceOk(namespace=(b"a",)), SubscribeAnnouncesOk(namespace_prefix=(b"b",))]
