"""Shared fixtures: an embedded relay on a free port, client configs pinned to its certificate."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import hang
from hang.relay import Relay, RelayConfig


@pytest.fixture
async def relay() -> AsyncIterator[Relay]:
    """Our relay on 127.0.0.1 with a generated certificate, every version enabled."""
    async with Relay(RelayConfig(host="127.0.0.1", port=0)) as running:
        yield running


def client_config(relay: Relay, *versions: hang.Version) -> hang.ClientConfig:
    """A client config pinned to ``relay``'s certificate, offering ``versions`` (default: all)."""
    config = hang.ClientConfig(fingerprints=[relay.fingerprint], timeout=5)
    if versions:
        config.versions = tuple(versions)
    return config


def url(relay: Relay, scheme: str = "https", path: str = "/") -> str:
    """The relay's URL for a scheme."""
    return f"{scheme}://127.0.0.1:{relay.port}{path}"
