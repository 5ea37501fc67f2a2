"""``hang chat``: three participants through `hang relay`, leaving, and rejoining with a newer track."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import Any

from hang.relay import Relay
from tests.conftest import url


class Chatter:
    """A `hang chat --json` process typed into through its standard input."""

    def __init__(self, process: Any, user: str) -> None:
        self.process, self.user = process, user
        self.events: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, relay: Relay, user: str, *extra: str) -> Chatter:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hang", "chat", url(relay), "--tls-fingerprint", relay.fingerprint,
            "--chat-id", "room1", "--user", user, "--json", *extra,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        return cls(process, user)

    def say(self, text: str) -> None:
        self.process.stdin.write(text.encode() + b"\n")

    async def wait_for(self, kind: str, user: str, text: str = "", timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            while not any(e["event"] == kind and e["user"] == user and e["text"] == text for e in self.events):
                line = await self.process.stdout.readline()
                assert line, f"{self.user} exited: {(await self.process.stderr.read()).decode()}"
                self.events.append(json.loads(line))

    def messages_from(self, user: str) -> list[str]:
        return [e["text"] for e in self.events if e["event"] == "message" and e["user"] == user]

    async def quit(self) -> tuple[int, str]:
        if self.process.returncode is None:
            self.process.stdin.write(b"/leave\n")
        try:
            _, err = await asyncio.wait_for(self.process.communicate(), 10)
        except TimeoutError:
            self.process.send_signal(signal.SIGKILL)
            _, err = await self.process.communicate()
        return self.process.returncode, err.decode()


async def test_three_chatters_leave_and_rejoin(relay: Relay) -> None:
    alice, bob, carol = [await Chatter.start(relay, name) for name in ("alice", "bob", "carol")]
    try:
        for me, others in ((alice, (bob, carol)), (bob, (alice, carol)), (carol, (alice, bob))):
            for other in others:
                await me.wait_for("join", other.user)
        for n in range(5):
            for chatter in (alice, bob, carol):
                chatter.say(f"{chatter.user} {n}")
        for me in (alice, bob, carol):
            for other in (alice, bob, carol):
                if other is not me:
                    await me.wait_for("message", other.user, f"{other.user} 4")
                    assert me.messages_from(other.user) == [f"{other.user} {n}" for n in range(5)]
        # Alice leaves: the others notice.
        code, err = await alice.quit()
        assert code == 0, err
        for me in (bob, carol):
            await me.wait_for("leave", "alice")
        # Alice rejoins (a newer timestamp: a new track) and is heard again.
        await asyncio.sleep(1.1)
        alice = await Chatter.start(relay, "alice")
        for me in (bob, carol):
            await me.wait_for("join", "alice")
        await alice.wait_for("join", "bob")
        alice.say("back")
        for me in (bob, carol):
            await me.wait_for("message", "alice", "back")
    finally:
        for chatter in (alice, bob, carol):
            await chatter.quit()


async def test_send_one_message(relay: Relay) -> None:
    listener = await Chatter.start(relay, "listener")
    try:
        sender = await Chatter.start(relay, "sender", "--send", "hello once")
        await listener.wait_for("message", "sender", "hello once")
        code, err = await sender.quit()
        assert code == 0, err
        await listener.wait_for("leave", "sender")
    finally:
        await listener.quit()
