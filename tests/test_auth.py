"""Tokens against the relay: our client and the official moq-rs client, in-process and as CLI processes."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import hang
from hang.errors import ConnectError, ErrorCode, MoqtCode, NotFound, SessionClosed, Unauthorized
from hang.relay import Relay, RelayConfig
from hang.relay.auth import Authenticator
from hang.relay.token import Claims, Key
from tests.conftest import client_config
from tests.peers.harness import peer
from tests.test_cli import free_port
from tests.test_loopback import next_active, read_numbered

# Every transport a token can ride: the WebTransport URL (any version) and the lite-05 SETUP Path.
ROUTES = [("https", hang.Version.LITE_03), ("https", hang.Version.LITE_05), ("https", hang.Version.LITE_02),
          ("moql", hang.Version.LITE_05)]


@pytest.fixture(params=["HS256", "ES256"])
def key(request: pytest.FixtureRequest) -> Key:
    """A signing key; the relay gets only the public half of an asymmetric one."""
    return Key.generate(request.param)


@pytest.fixture
async def relay(key: Key) -> AsyncIterator[Relay]:
    verifier = key if key.algorithm.startswith("HS") else key.public()
    config = RelayConfig(host="127.0.0.1", port=0, auth=Authenticator(verifier, public=["anon"]))
    async with Relay(config) as running:
        yield running


def token_url(relay: Relay, path: str, token: str | None, scheme: str = "https") -> str:
    return f"{scheme}://127.0.0.1:{relay.port}{path}" + (f"?jwt={token}" if token else "")


def mint(key: Key, root: str, put: list[str] | None = None, get: list[str] | None = None,
         expires: int | None = None) -> str:
    return key.sign(Claims(root, put or [], get or [], expires))


async def pump(track: hang.TrackProducer, stop: asyncio.Event) -> None:
    n = 0
    while not stop.is_set():
        group = track.append_group()
        group.write_frame(str(n).encode(), n)
        n += 1
        await asyncio.sleep(0.02)


async def refusal_code(url: str, config: hang.ClientConfig) -> int:
    """Connect and return the code the relay closed the session with."""
    try:
        async with hang.connect(url, config) as session:
            reason = await asyncio.wait_for(asyncio.shield(session.closed), 10)
            return reason.code
    except SessionClosed as exc:
        return exc.code
    except ConnectError:
        return -1


@pytest.mark.parametrize(("scheme", "version"), ROUTES, ids=lambda v: getattr(v, "label", v))
async def test_granted_publish_and_subscribe(relay: Relay, key: Key, scheme: str, version: hang.Version) -> None:
    config = client_config(relay, version)
    pub_url = token_url(relay, "/room", mint(key, "room", put=["alice"]), scheme)
    sub_url = token_url(relay, "/room", mint(key, "room", get=[""]), scheme)
    async with hang.connect(pub_url, config) as pub, hang.connect(sub_url, config) as sub:
        broadcast = hang.BroadcastProducer()
        track = broadcast.create_track("numbers")
        announcements = sub.announced("")
        pub.publish("alice", broadcast.consume())
        await next_active(announcements, "alice")
        assert relay.origin.paths() == ["room/alice"]
        consumer = await sub.subscribe("alice", "numbers")
        stop = asyncio.Event()
        writer = asyncio.ensure_future(pump(track, stop))
        numbers = await asyncio.wait_for(read_numbered(consumer, 5), 10)
        stop.set()
        await writer
        assert numbers == list(range(numbers[0], numbers[0] + 5))


async def test_publish_outside_put_is_ignored_and_the_session_goes_on(
        relay: Relay, key: Key, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "hang")
    config = client_config(relay, hang.Version.LITE_04)
    limited = token_url(relay, "/room", mint(key, "room", put=["alice"], get=[""]))
    full = token_url(relay, "/room", mint(key, "room", put=[""], get=[""]))
    async with hang.connect(limited, config) as alice, hang.connect(full, config) as other:
        watcher = other.announced("")
        sneaky, legit, carol = hang.BroadcastProducer(), hang.BroadcastProducer(), hang.BroadcastProducer()
        carol_track = carol.create_track("t")
        alice.publish("bob", sneaky.consume())
        alice.publish("alice/cam", legit.consume())
        other.publish("carol", carol.consume())
        await next_active(watcher, "alice/cam")
        assert "room/bob" not in relay.origin.paths()
        assert any("bob" in r.message and "not granted" in r.message for r in caplog.records)
        with pytest.raises(NotFound):
            await other.subscribe("bob", "t")
        # The same session still subscribes.
        consumer = await alice.subscribe("carol", "t")
        stop = asyncio.Event()
        writer = asyncio.ensure_future(pump(carol_track, stop))
        assert len(await asyncio.wait_for(read_numbered(consumer, 3), 10)) == 3
        stop.set()
        await writer
        assert not alice.closed.done()


@pytest.mark.parametrize("version", [hang.Version.LITE_03, hang.Version.LITE_05], ids=lambda v: v.label)
async def test_subscribe_outside_get_is_unauthorized(relay: Relay, key: Key, version: hang.Version) -> None:
    config = client_config(relay, version)
    viewer_url = token_url(relay, "/room", mint(key, "room", get=["alice"]))
    full = token_url(relay, "/room", mint(key, "room", put=[""], get=[""]))
    async with hang.connect(viewer_url, config) as viewer, hang.connect(full, config) as publisher:
        seen = viewer.announced("")
        alice, bob = hang.BroadcastProducer(), hang.BroadcastProducer()
        alice_track = alice.create_track("t")
        bob.create_track("t")
        publisher.publish("bob", bob.consume())
        publisher.publish("alice", alice.consume())
        first = await asyncio.wait_for(seen.__anext__(), 5)
        assert first.path == "alice"  # bob, announced first, is not shown
        with pytest.raises(Unauthorized):
            await viewer.subscribe("bob", "t")
        consumer = await viewer.subscribe("alice", "t")  # the session goes on
        stop = asyncio.Event()
        writer = asyncio.ensure_future(pump(alice_track, stop))
        assert len(await asyncio.wait_for(read_numbered(consumer, 2), 10)) == 2
        stop.set()
        await writer


@pytest.mark.parametrize(("scheme", "version"), ROUTES, ids=lambda v: getattr(v, "label", v))
async def test_missing_expired_tampered_or_foreign_tokens_are_refused(
        relay: Relay, key: Key, scheme: str, version: hang.Version, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "hang.relay")
    good = mint(key, "room", put=[""], get=[""])
    head, _, sig = good.split(".")
    forged_body = mint(Key.generate("HS256"), "", put=[""], get=[""]).split(".")[1]
    bad_tokens = {
        "missing": None,
        "expired": mint(key, "room", put=[""], expires=int(time.time()) - 5),
        "tampered": f"{head}.{forged_body}.{sig}",
        "wrong key": mint(Key.generate(key.algorithm), "room", put=[""], get=[""]),
        "other root": good,  # valid, but for /room, not /elsewhere
    }
    config = client_config(relay, version)
    for why, token in bad_tokens.items():
        path = "/elsewhere" if why == "other root" else "/room"
        code = await refusal_code(token_url(relay, path, token, scheme), config)
        assert code == ErrorCode.UNAUTHORIZED, why
    assert sum("unauthorized" in r.message for r in caplog.records) == len(bad_tokens)
    assert not relay.sessions


async def test_public_prefix_is_open_without_a_token(relay: Relay) -> None:
    config = client_config(relay, hang.Version.LITE_04)
    async with hang.connect(token_url(relay, "/anon", None), config) as pub, \
            hang.connect(token_url(relay, "/", None), config) as sub:
        broadcast = hang.BroadcastProducer()
        track = broadcast.create_track("t")
        seen = sub.announced("")
        pub.publish("guest", broadcast.consume())
        await next_active(seen, "anon/guest")
        consumer = await sub.subscribe("anon/guest", "t")
        stop = asyncio.Event()
        writer = asyncio.ensure_future(pump(track, stop))
        assert len(await asyncio.wait_for(read_numbered(consumer, 2), 10)) == 2
        stop.set()
        await writer
    assert await refusal_code(token_url(relay, "/private", None), config) == ErrorCode.UNAUTHORIZED


async def test_token_expiry_ends_the_session(relay: Relay, key: Key) -> None:
    token = mint(key, "room", get=[""], expires=int(time.time()) + 2)
    async with hang.connect(token_url(relay, "/room", token), client_config(relay)) as session:
        reason = await asyncio.wait_for(asyncio.shield(session.closed), 15)
    assert reason.code == ErrorCode.UNAUTHORIZED


# -- the command line: hang token + hang relay --auth-key ------------------------------------------


async def run_cli(*args: str) -> str:
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "hang", *args,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    return out.decode().strip()


@pytest.fixture
async def cli_relay(tmp_path: Path) -> AsyncIterator[tuple[int, str, Path]]:
    """``hang relay --auth-key`` as a process, with an ES256 key from ``hang token --generate``."""
    private, public = tmp_path / "private.jwk", tmp_path / "public.jwk"
    await run_cli("token", "--generate", str(private), "--algorithm", "ES256", "--public", str(public))
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hang", "relay", "--listen", f"127.0.0.1:{port}", "--auth-key", str(public),
        "--no-http", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), 15)).decode()
    pin = re.search(r"pin ([0-9a-f]{64})", line)
    assert pin, line
    try:
        yield port, pin.group(1), private
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


async def test_cli_token_and_relay_end_to_end(cli_relay: tuple[int, str, Path]) -> None:
    port, pin, private = cli_relay
    token = await run_cli("token", "--key", str(private), "--root", "room", "--put", "", "--get", "")
    claims = await run_cli("token", "--key", str(private), "--verify", token)
    assert '"root": "room"' in claims
    config = hang.ClientConfig(fingerprints=[pin], timeout=10)
    base = f"https://127.0.0.1:{port}/room"
    async with hang.connect(f"{base}?jwt={token}", config) as pub, hang.connect(f"{base}?jwt={token}", config) as sub:
        broadcast = hang.BroadcastProducer()
        track = broadcast.create_track("t")
        seen = sub.announced("")
        pub.publish("alice", broadcast.consume())
        await next_active(seen, "alice")
        consumer = await sub.subscribe("alice", "t")
        stop = asyncio.Event()
        writer = asyncio.ensure_future(pump(track, stop))
        assert len(await asyncio.wait_for(read_numbered(consumer, 2), 10)) == 2
        stop.set()
        await writer
    assert await refusal_code(base, config) == ErrorCode.UNAUTHORIZED


# -- interop: the official moq-rs client with tokens minted by `hang token` -------------------------


@pytest.mark.parametrize("scheme", ["https", "moql"])
async def test_moq_rs_clients_with_tokens(cli_relay: tuple[int, str, Path], scheme: str) -> None:
    port, pin, private = cli_relay
    pub_token = await run_cli("token", "--key", str(private), "--root", "room", "--put", "alice.hang")
    sub_token = await run_cli("token", "--key", str(private), "--root", "room", "--get", "")
    target = f"{scheme}://127.0.0.1:{port}/room"
    async with peer("subscribe", f"{target}?jwt={sub_token}", "--fingerprint", pin, "--name", "alice.hang",
                    "--track", "chat", "--count", "10") as sub, \
            peer("publish", f"{target}?jwt={pub_token}", "--fingerprint", pin, "--name", "alice.hang",
                 "--track", "chat", "--frames", "10", "--groups-of", "5", "--interval-ms", "10",
                 "--wait-stdin") as pub:
        await pub.expect("announced")
        await sub.expect("subscribed")
        await asyncio.sleep(0.5)  # let the relay's upstream subscription settle
        pub.send_line()
        done = await sub.expect("done", timeout=30)
        assert done["frames"] == 10
        assert [e["payload"] for e in sub.events if e["event"] == "frame"] == [f"frame-{i}" for i in range(10)]
    async with peer("subscribe", target, "--fingerprint", pin, "--name", "alice.hang", "--track", "chat",
                    "--count", "1", "--timeout", "15") as anonymous:
        assert await anonymous.exit_code(30) != 0
        stderr = await anonymous.read_stderr()
        if scheme == "moql":  # the close code reaches moq-ffi on raw QUIC: moq-lite Unauthorized (6)
            assert "code=6" in stderr, stderr
        else:  # over WebTransport moq-ffi 0.4.18 reports only that the session closed
            assert "closed" in stderr, stderr


async def test_draft07_sessions_follow_the_same_tokens(relay: Relay, key: Key) -> None:
    draft07 = dataclasses.replace(client_config(relay), protocol="moqt-07")
    assert await refusal_code(token_url(relay, "/room", None), draft07) == MoqtCode.UNAUTHORIZED
    token = mint(key, "room", put=["alice"], get=[""])
    async with hang.connect(token_url(relay, "/room", token), draft07) as pub, \
            hang.connect(token_url(relay, "/room", token), draft07) as sub:
        broadcast = hang.BroadcastProducer()
        track = broadcast.create_track("t")
        pub.publish("alice/cam", broadcast.consume())
        announcements = sub.announced("alice")
        async with asyncio.timeout(5):
            async for item in announcements:
                if item.path == "alice/cam" and item.active:
                    break
        stop = asyncio.Event()
        writer = asyncio.ensure_future(pump(track, stop))
        consumer = await asyncio.wait_for(sub.subscribe("alice/cam", "t"), 5)
        group = await asyncio.wait_for(consumer.next_group(), 5)
        assert group is not None and await group.read_all()
        stop.set()
        await writer
