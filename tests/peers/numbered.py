#!/usr/bin/env python3
"""A frame-numbering publisher and a checking subscriber, as processes (for network fault tests).

    numbered.py publish URL --fingerprint HEX --name room/n [--fps 30] [--group-frames 15] [--frame-size 1200]
        [--reconnect]
    numbered.py subscribe URL --fingerprint HEX --name room/n [--seconds 15] [--reconnect]

Every frame is a Hang container frame (varint timestamp + payload); the payload carries the group
sequence, the frame's index in its group, a global frame number and a filler derived from them, so
the subscriber can tell a whole, correct frame from anything else. Both print JSON events on stdout.

The subscriber checks every frame it receives: the container decodes, the payload is intact, and
indices within a group run 0, 1, 2 ... with no hole. Events: ``ready``, ``frame`` (group, index,
number, time), ``group`` (sequence, frames, how it ended), ``unannounced``, ``ended``, ``bad``
(a frame that failed a check), ``reconnecting``, ``done`` (totals).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import struct
import sys
import time
from typing import Any

import hang
from hang.media.container import ContainerError, decode_frame, encode_frame

TRACK = "numbers"
HEADER = struct.Struct(">QIQ")  # group sequence, index in group, global frame number


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, "t": time.monotonic(), **fields}), flush=True)


def payload(group: int, index: int, number: int, size: int) -> bytes:
    head = HEADER.pack(group, index, number)
    filler = hashlib.sha256(head).digest() * (size // 32 + 1)
    return head + filler[: max(0, size - len(head))]


def check(frame: bytes) -> tuple[int, int, int]:
    """(group, index, number) of an intact frame; ValueError otherwise."""
    try:
        _, body = decode_frame(frame)
    except ContainerError as exc:
        raise ValueError(f"container: {exc}") from None
    if len(body) < HEADER.size:
        raise ValueError(f"payload of {len(body)} bytes is shorter than its header")
    group, index, number = HEADER.unpack_from(body)
    if body != payload(group, index, number, len(body)):
        raise ValueError(f"frame {number} is corrupt")
    return group, index, number


async def publish(args: argparse.Namespace) -> None:
    while True:
        try:
            await publish_once(args)
        except hang.HangError as exc:
            if not args.reconnect:
                raise
            emit("reconnecting", reason=str(exc))
        else:
            if not args.reconnect:
                return
            emit("reconnecting", reason="session closed")
        await asyncio.sleep(0.5)


async def publish_once(args: argparse.Namespace) -> None:
    config = hang.ClientConfig(fingerprints=[args.fingerprint], timeout=10)
    async with hang.connect(args.url, config) as session:
        broadcast = hang.BroadcastProducer()
        track = broadcast.create_track(TRACK)
        session.publish(args.name, broadcast.consume())
        emit("ready")
        interval = 1 / args.fps
        start = time.monotonic()
        number = 0
        group: hang.GroupProducer | None = None
        while not session.closed.done():
            index = number % args.group_frames
            if index == 0:
                if group is not None:
                    group.finish()
                group = track.append_group()
            assert group is not None
            body = payload(group.sequence, index, number, args.frame_size)
            group.write_frame(encode_frame(round(number * interval * 1e6), body), round(number * interval * 1e3))
            number += 1
            await asyncio.sleep(max(0.0, start + number * interval - time.monotonic()))


class Checker:
    def __init__(self) -> None:
        self.frames = 0
        self.bad = 0
        self.groups: dict[str, int] = {"complete": 0, "cut": 0}

    async def read_group(self, group: hang.GroupConsumer) -> None:
        expected = 0
        how = "fin"
        try:
            while (frame := await group.read_frame()) is not None:
                try:
                    seq, index, number = check(frame.payload)
                    if seq != group.sequence or index != expected:
                        raise ValueError(f"group {group.sequence}: frame index {index} where {expected} was due")
                except ValueError as exc:
                    self.bad += 1
                    emit("bad", group=group.sequence, reason=str(exc))
                    return
                expected += 1
                self.frames += 1
                emit("frame", group=seq, index=index, number=number)
        except hang.HangError as exc:
            how = f"aborted: {exc}"
        self.groups["complete" if how == "fin" else "cut"] += 1
        emit("group", sequence=group.sequence, frames=expected, how=how)

    async def watch(self, session: hang.MoqSession, name: str) -> None:
        announcements = session.announced(name.rsplit("/", 1)[0])
        async for item in announcements:
            if item.path == name and item.active:
                break
        consumer = await session.subscribe(name, TRACK)
        emit("subscribed")
        unannounced = asyncio.ensure_future(self._unannounced(announcements, name))
        tasks: set[asyncio.Task[None]] = set()
        try:
            while (group := await consumer.next_group()) is not None:
                task = asyncio.ensure_future(self.read_group(group))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            emit("ended")
            await asyncio.gather(*tasks)
            await unannounced
        finally:
            unannounced.cancel()
            for task in tasks:
                task.cancel()

    @staticmethod
    async def _unannounced(announcements: Any, name: str) -> None:
        async for item in announcements:
            if item.path == name and not item.active:
                emit("unannounced")
                return


async def subscribe(args: argparse.Namespace) -> None:
    config = hang.ClientConfig(fingerprints=[args.fingerprint], timeout=10)
    checker = Checker()
    deadline = time.monotonic() + args.seconds
    emit("ready")
    try:
        async with asyncio.timeout(args.seconds):
            while True:
                try:
                    async with hang.connect(args.url, config) as session:
                        emit("connected")
                        await checker.watch(session, args.name)
                        if not args.reconnect:
                            break
                except hang.HangError as exc:
                    if not args.reconnect:
                        raise
                    emit("reconnecting", reason=str(exc))
                    await asyncio.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
    except TimeoutError:
        pass
    emit("done", frames=checker.frames, bad=checker.bad, **checker.groups)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["publish", "subscribe"])
    parser.add_argument("url")
    parser.add_argument("--fingerprint", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--group-frames", type=int, default=15)
    parser.add_argument("--frame-size", type=int, default=1200)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--reconnect", action="store_true")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(publish(args) if args.command == "publish" else subscribe(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
