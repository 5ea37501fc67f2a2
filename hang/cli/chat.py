"""``hang chat``: a MoQ Chat participant in the terminal (IETF MoQ Transport draft-07)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from hang.chat import ChatEvent, ChatRoom
from hang.cli.common import add_client, client_config, stop_on_signals
from hang.session.client import connect
from hang.session.moqt07 import Moqt07Session


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``hang chat``."""
    parser = sub.add_parser("chat", help="join a MoQ Chat room (draft-frindell-moq-chat-00, draft-07)")
    add_client(parser)
    parser.add_argument("--chat-id", required=True, help="the chat room id")
    parser.add_argument("--user", required=True, help="your user name")
    parser.add_argument("--device", default="12345", help="your device id (default 12345)")
    parser.add_argument("--send", metavar="TEXT", help="send one message, then leave")
    parser.add_argument("--json", action="store_true", help="print one JSON object per event")
    parser.add_argument("--linger", type=float, default=1.0, metavar="SECONDS",
                        help="with --send: stay this long so others can read the message (default 1)")
    parser.set_defaults(run=run, protocol="moqt-07")


def show(event: ChatEvent, as_json: bool) -> None:
    """Print an event as a line of text or JSON."""
    if as_json:
        print(json.dumps({"event": event.kind, "user": event.user, "device": event.device, "text": event.text,
                          "group": event.group}), flush=True)
    elif event.kind == "message":
        print(f"{event.user}: {event.text}", flush=True)
    else:
        print(f"* {event.user} ({event.device}) {'joined' if event.kind == 'join' else 'left'}", flush=True)


async def run(args: argparse.Namespace) -> int:
    """Join, print what happens, send each line typed (``/leave`` or end of input leaves)."""
    args.protocol = "moqt-07"
    async with connect(args.url, client_config(args)) as session:
        assert isinstance(session, Moqt07Session)
        room = ChatRoom(session, args.chat_id, args.user, args.device)
        await room.join()
        printer = asyncio.ensure_future(_print(room, args.json))
        try:
            if args.send is not None:
                room.send(args.send)
                await asyncio.sleep(args.linger)
            else:
                await _interactive(room, session)
        finally:
            await room.leave()
            printer.cancel()
    return 0


async def _print(room: ChatRoom, as_json: bool) -> None:
    while True:
        show(await room.events.get(), as_json)


async def _interactive(room: ChatRoom, session: Moqt07Session) -> None:
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    fd = sys.stdin.fileno()
    buffered = b""

    def readable() -> None:
        # Raw reads: a buffered readline() would keep later lines where the selector cannot see them.
        nonlocal buffered
        chunk = os.read(fd, 65536)
        if not chunk:
            loop.remove_reader(fd)
            lines.put_nowait(None)
            return
        buffered += chunk
        while b"\n" in buffered:
            line, buffered = buffered.split(b"\n", 1)
            lines.put_nowait(line.decode("utf-8", errors="replace"))

    loop.add_reader(fd, readable)
    stop = asyncio.Event()
    try:
        with stop_on_signals(stop):
            while True:
                waiters = {asyncio.ensure_future(lines.get()), asyncio.ensure_future(stop.wait()),
                           asyncio.ensure_future(session.wait_closed())}
                done, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                for other in pending:
                    other.cancel()
                line = next(iter(done)).result()
                if not isinstance(line, str) or line.strip() == "/leave":
                    return
                if line.strip():
                    room.send(line)
    finally:
        loop.remove_reader(fd)
