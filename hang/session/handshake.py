"""Version negotiation: ALPN / wt-protocol, the ``moql`` SETUP exchange, and lite-05 SETUP streams."""

from __future__ import annotations

from dataclasses import dataclass

from hang.errors import UnexpectedMessage, VersionError
from hang.session.reader import StreamReader
from hang.transport.base import RecvStream, SendStream, Session
from hang.wire.coding import encode_varint
from hang.wire.constants import ALPN_MOQL, DIRECT_VERSIONS, BidiStream, SetupParam, UniStream, Version
from hang.wire.framing import encode_message, encode_setup_message
from hang.wire.messages import ClientSetup, ServerSetup, Setup

PROBE_REPORT = 1


def direct_version(protocol: str, versions: tuple[Version, ...]) -> Version | None:
    """The version an ALPN or wt-protocol selects directly (None for ``moql`` or nothing)."""
    for version in versions:
        if version in DIRECT_VERSIONS and version.alpn == protocol:
            return version
    return None


def select_protocol(offered: list[str], versions: tuple[Version, ...]) -> str | None:
    """Server rule: the first protocol in the client's list that we support."""
    ours = {v.alpn for v in versions}
    for protocol in offered:
        if protocol in ours:
            return protocol
    return None


@dataclass
class SetupStream:
    """The ``moql`` session stream; it must stay open for the whole session."""

    send: SendStream
    recv: RecvStream


async def client_setup(transport: Session, versions: tuple[Version, ...]) -> tuple[Version, SetupStream]:
    """Run the ``moql`` CLIENT_SETUP / SERVER_SETUP exchange as the client."""
    offered = tuple(v for v in versions if v.uses_setup_exchange)
    if not offered:
        raise VersionError(f"server negotiated {transport.protocol or 'nothing'}, which none of our versions use")
    send, recv = await transport.open_bi()
    send.write_nowait(encode_setup_message(BidiStream.CLIENT_SETUP, ClientSetup(tuple(offered)), offered[0]))
    reader = StreamReader(recv)
    kind = await reader.varint()
    if kind != 0x21:
        raise UnexpectedMessage(f"expected SERVER_SETUP (0x21), got {kind}")
    reply = await reader.setup_message(ServerSetup, offered[0])
    if reply.version not in offered:
        raise VersionError(f"server chose version {reply.version:#x}, which we did not offer")
    return Version(reply.version), SetupStream(send, recv)


async def server_setup(send: SendStream, reader: StreamReader, versions: tuple[Version, ...]) -> Version:
    """Answer a CLIENT_SETUP (the 0x20 already read) with the best common version."""
    hello = await reader.setup_message(ClientSetup, Version.LITE_02)
    ours = [v for v in versions if v.uses_setup_exchange]
    chosen = next((Version(v) for v in hello.versions if v in ours), None)
    if chosen is None:
        offered = ", ".join(f"{v:#x}" for v in hello.versions)
        raise VersionError(f"client offered no version we speak over moql ({offered})")
    send.write_nowait(encode_setup_message(0x21, ServerSetup(chosen), chosen))
    return chosen


async def send_lite05_setup(transport: Session, *, path: str | None, origin_id: int) -> None:
    """Open our lite-05 SETUP uni stream: probe support, origin id, and the path on raw QUIC."""
    params: dict[int, bytes] = {SetupParam.PROBE: Setup.varint_value(0)}
    if path is not None:
        params[SetupParam.PATH] = path.encode()
    params[SetupParam.ORIGIN] = Setup.varint_value(origin_id)
    stream = await transport.open_uni()
    body = encode_message(Setup(params), Version.LITE_05)
    stream.write_nowait(encode_varint(UniStream.SETUP) + body, fin=True)


def needs_setup_exchange(protocol: str) -> bool:
    """True when nothing selected a version directly (``moql``, or no protocol at all)."""
    return protocol in ("", ALPN_MOQL)
