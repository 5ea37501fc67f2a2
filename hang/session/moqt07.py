"""An IETF MoQ Transport draft-07 session: setup, the control stream and its dispatch table.

The client's first bidirectional stream is the control stream; every control message travels on
it. Objects arrive on unidirectional streams and datagrams. Broadcast paths map to namespace
tuples by splitting on ``/``, so draft-07 and moq-lite peers share one origin in the relay.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from hang.errors import NotFound, ProtocolError, UnexpectedMessage, VersionError
from hang.model.origin import Origin
from hang.session.base import log
from hang.session.limits import SessionLimits
from hang.session.moqt07_base import Moqt07Options, path_namespace
from hang.session.moqt07_publish import Moqt07Publisher
from hang.session.moqt07_subscribe import Moqt07Subscriber
from hang.transport.base import RecvStream, Session
from hang.wire.framing import Pending
from hang.wire.moqt07 import (
    VERSION,
    Announce,
    AnnounceCancel,
    AnnounceError,
    AnnounceOk,
    ClientSetup,
    ControlDecoder,
    ControlMessage,
    Goaway,
    MessageType,
    Role,
    ServerSetup,
    SetupParam,
    Unannounce,
    encode_control,
    param_int,
    varint_param,
)

Handler = Callable[[Any], None]


class Moqt07Session(Moqt07Publisher, Moqt07Subscriber):
    """One draft-07 session, client or server side; both ends may publish and subscribe.

    The same interface as the moq-lite session: :meth:`publish`, :meth:`announced`,
    :meth:`subscribe`, plus draft-07's :meth:`fetch` and :meth:`track_status`.
    """

    def __init__(self, transport: Session, *, is_server: bool, publish: Origin | None = None,
                 subscribe: Origin | None = None, options: Moqt07Options | None = None,
                 limits: SessionLimits | None = None) -> None:
        super().__init__(transport, is_server=is_server, publish=publish, subscribe=subscribe,
                         options=options or Moqt07Options(), limits=limits)
        self.init_publisher()
        self.init_subscriber()
        self._control_recv: RecvStream | None = None
        self._decoder = ControlDecoder()
        self._control_ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._announce_replies: dict[tuple[str, ...], asyncio.Future[None]] = {}
        #: Called once setup is done and before any request is served (the relay scopes origins here).
        self.on_ready: Callable[[Moqt07Session], None] | None = None
        self._handlers: dict[int, Handler] = {
            MessageType.SUBSCRIBE: self.on_subscribe,
            MessageType.SUBSCRIBE_UPDATE: self.on_subscribe_update,
            MessageType.SUBSCRIBE_OK: self.on_subscribe_ok,
            MessageType.SUBSCRIBE_ERROR: self.on_subscribe_error,
            MessageType.UNSUBSCRIBE: self.on_unsubscribe,
            MessageType.SUBSCRIBE_DONE: self.on_subscribe_done,
            MessageType.ANNOUNCE: self.on_announce,
            MessageType.ANNOUNCE_OK: self._on_announce_reply,
            MessageType.ANNOUNCE_ERROR: self._on_announce_reply,
            MessageType.ANNOUNCE_CANCEL: self._on_announce_reply,
            MessageType.UNANNOUNCE: self.on_unannounce,
            MessageType.TRACK_STATUS_REQUEST: self.on_track_status_request,
            MessageType.TRACK_STATUS: self.on_track_status,
            MessageType.GOAWAY: self._on_goaway,
            MessageType.SUBSCRIBE_ANNOUNCES: self.on_subscribe_announces,
            MessageType.SUBSCRIBE_ANNOUNCES_OK: self.on_subscribe_announces_ok,
            MessageType.SUBSCRIBE_ANNOUNCES_ERROR: self.on_subscribe_announces_error,
            MessageType.UNSUBSCRIBE_ANNOUNCES: self.on_unsubscribe_announces,
            MessageType.MAX_SUBSCRIBE_ID: self.on_max_subscribe_id,
            MessageType.FETCH: self.on_fetch,
            MessageType.FETCH_CANCEL: self.on_fetch_cancel,
            MessageType.FETCH_OK: self.on_fetch_ok,
            MessageType.FETCH_ERROR: self.on_fetch_error,
        }

    # -- setup ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Run CLIENT_SETUP / SERVER_SETUP and start serving the control stream, streams and datagrams."""
        self.spawn(self._watch_transport(), "transport")
        self.spawn(self._accept_loop(), "accept")
        if self.is_server:
            await asyncio.shield(self._control_ready)
            await self._server_setup()
        else:
            await self._client_setup()
        if self.on_ready is not None:
            self.on_ready(self)
        self.spawn(self._control_loop(), "control stream")
        self.spawn(self.receive_datagrams(), "datagrams")
        if not self.is_server:
            self.spawn(self.announce_published(), "announcements")
        log.debug("%s: draft-07 session up%s", self.label, " (cloudflare profile)" if self.cloudflare else "")

    def _setup_params(self) -> dict[int, bytes]:
        params: dict[int, bytes] = {SetupParam.ROLE: varint_param(Role.PUBSUB)}
        if not self.cloudflare:
            params[SetupParam.MAX_SUBSCRIBE_ID] = varint_param(self._granted)
        return params

    async def _client_setup(self) -> None:
        send, recv = await self.transport.open_bi()
        self.control, self._control_recv = send, recv
        params = self._setup_params()
        path = self.transport.path
        if self.transport.kind == "quic" and path and path != "/" and not self.cloudflare:
            params[SetupParam.PATH] = path.encode()
        send.write_nowait(encode_control(ClientSetup((VERSION,), params)))
        reply = await self._next_message()
        if not isinstance(reply, ServerSetup):
            raise UnexpectedMessage(f"expected SERVER_SETUP, got {type(reply).__name__}")
        if reply.selected_version != VERSION:
            raise VersionError(f"server selected version {reply.selected_version:#x}, which we did not offer")
        self._check_role(reply.parameters)
        if SetupParam.PATH in reply.parameters:
            raise ProtocolError("PATH from a server")
        maximum = param_int(reply.parameters, SetupParam.MAX_SUBSCRIBE_ID)
        if maximum is not None or not self.cloudflare:
            self.grant_ids(maximum or 0)

    async def _server_setup(self) -> None:
        hello = await self._next_message()
        if not isinstance(hello, ClientSetup):
            raise UnexpectedMessage(f"expected CLIENT_SETUP, got {type(hello).__name__}")
        if VERSION not in hello.supported_versions:
            offered = ", ".join(f"{v:#x}" for v in hello.supported_versions)
            raise VersionError(f"client offered no version we speak ({offered})")
        self._check_role(hello.parameters)
        path = hello.parameters.get(SetupParam.PATH)
        if path is not None:
            if self.transport.kind == "webtransport":
                raise ProtocolError("PATH setup parameter over WebTransport")
            self.setup_path = path.decode(errors="replace")
        self.grant_ids(param_int(hello.parameters, SetupParam.MAX_SUBSCRIBE_ID) or 0)
        assert self.control is not None
        self.control.write_nowait(encode_control(ServerSetup(VERSION, self._setup_params())))

    @staticmethod
    def _check_role(params: dict[int, bytes]) -> None:
        role = param_int(params, SetupParam.ROLE)
        if role not in (Role.PUBLISHER, Role.SUBSCRIBER, Role.PUBSUB):
            raise ProtocolError(f"missing or invalid ROLE {role}")

    @property
    def path(self) -> str:
        """The path (and query) the client connected to: the URL on WebTransport, PATH on raw QUIC."""
        return self.transport.path or self.setup_path

    # -- the control stream --------------------------------------------------------------------

    async def _next_message(self) -> ControlMessage:
        assert self._control_recv is not None
        while True:
            message = self._decoder.pull()
            if not isinstance(message, Pending):
                return message
            data, fin = await self._control_recv.read()
            self._decoder.feed(data, fin)
            if self._decoder.ended:
                raise ProtocolError("the control stream was closed")

    async def _control_loop(self) -> None:
        while True:
            message = await self._next_message()
            log.debug("%s: <- %s", self.label, message)
            handler = self._handlers.get(message.TYPE)
            if handler is None:
                raise UnexpectedMessage(f"{type(message).__name__} after setup")
            handler(message)

    async def announce(self, path: str) -> None:
        """ANNOUNCE ``path``'s namespace by itself and wait for ANNOUNCE_OK; raises NotFound if refused."""
        namespace = path_namespace(path)
        reply = self._announce_replies.setdefault(namespace, asyncio.get_running_loop().create_future())
        self.send_control(Announce(namespace))
        try:
            await asyncio.shield(reply)
        finally:
            self._announce_replies.pop(namespace, None)

    def unannounce(self, path: str) -> None:
        """UNANNOUNCE a namespace sent with :meth:`announce`."""
        self.send_control(Unannounce(path_namespace(path)))

    def _on_announce_reply(self, message: AnnounceOk | AnnounceError | AnnounceCancel) -> None:
        reply = self._announce_replies.get(message.track_namespace)
        if reply is not None and not reply.done():
            if isinstance(message, AnnounceOk):
                reply.set_result(None)
            else:
                reply.set_exception(NotFound(f"announce refused: {message.reason_phrase} (code {message.error_code})"))
        if not isinstance(message, AnnounceOk):
            log.info("%s: announce of %s refused: %s (code %d)", self.label, "/".join(message.track_namespace),
                     message.reason_phrase, message.error_code)

    def _on_goaway(self, message: Goaway) -> None:
        if self.is_server or self.goaway is not None:
            raise ProtocolError("unexpected GOAWAY")
        self.goaway = message.new_session_uri
        self.going_away.set()
        log.info("%s: peer is going away%s", self.label, f" (to {self.goaway})" if self.goaway else "")

    async def send_goaway(self, uri: str = "") -> None:
        """Ask the client to move (server side only)."""
        if self.is_server and not self.cloudflare and self.control is not None:
            self.send_control(Goaway(uri))

    # -- streams -------------------------------------------------------------------------------

    async def _accept_loop(self) -> None:
        while True:
            send, recv = await self.transport.accept()
            if send is None:
                self.spawn(self.receive_objects(recv), "data stream")
            elif self.is_server and self.control is None:
                self.control, self._control_recv = send, recv
                self._control_ready.set_result(None)
            else:
                raise ProtocolError("a second bidirectional stream")

    def on_closed(self) -> None:
        if not self._control_ready.done():
            self._control_ready.cancel()
        for reply in self._announce_replies.values():
            if not reply.done():
                reply.cancel()
        self.close_subscriptions()


