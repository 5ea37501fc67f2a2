"""``hang interop``: the interop runner's client cases against `hang relay`, as the runner drives them."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from hang.cli.interop import CASES
from hang.relay import Relay
from tests.conftest import url


async def interop(env: dict[str, str], *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hang", "interop", *args, env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode() + err.decode()


@pytest.mark.parametrize("scheme", ["https", "moqt"], ids=["webtransport", "quic"])
async def test_every_case_passes_against_hang_relay(relay: Relay, scheme: str) -> None:
    code, out = await interop({"RELAY_URL": url(relay, scheme), "TLS_DISABLE_VERIFY": "1"})
    assert code == 0, out
    lines = out.splitlines()
    assert lines[:2] == ["TAP version 14", f"1..{len(CASES)}"]
    assert [line for line in lines if line.startswith(("ok", "not ok"))] == [
        f"ok {n} - {name}" for n, name in enumerate(CASES, 1)]
    assert "duration_ms:" in out


async def test_one_case_from_the_environment_and_the_list(relay: Relay) -> None:
    code, out = await interop({"RELAY_URL": url(relay), "TLS_DISABLE_VERIFY": "1", "TESTCASE": "subscribe-error"})
    assert code == 0 and "ok 1 - subscribe-error" in out and "1..1" in out, out
    code, out = await interop({}, "--list")
    assert code == 0 and out.split() == list(CASES)
    code, out = await interop({"RELAY_URL": url(relay), "TESTCASE": "single-object"})
    assert code == 127


async def test_a_failing_case_is_not_ok(relay: Relay) -> None:
    # Certificate verification on against the self-signed relay: setup cannot succeed.
    code, out = await interop({"RELAY_URL": url(relay), "TESTCASE": "setup-only", "TLS_DISABLE_VERIFY": "0"})
    assert code == 1 and "not ok 1 - setup-only" in out, out
