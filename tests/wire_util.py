"""Helpers shared by the wire tests: readable byte specs and version groups."""

from __future__ import annotations

import re

from hang.wire.constants import Version

V1, V2, V3, V4, V5 = (Version.LITE_01, Version.LITE_02, Version.LITE_03, Version.LITE_04, Version.LITE_05)
ALL = (V1, V2, V3, V4, V5)
SETUP_ERA = (V1, V2)
PRE5 = (V1, V2, V3, V4)
V34 = (V3, V4)
V345 = (V3, V4, V5)
V45 = (V4, V5)

_TOKEN = re.compile(r'\s*(?:"([^"]*)"|([0-9a-fA-F]+))')


def hexb(spec: str) -> bytes:
    """``'02 16 "ab" c0000000ff0dad02'`` -> bytes: hex tokens (any even length) and quoted UTF-8 text."""
    out = bytearray()
    pos = 0
    spec = spec.rstrip()
    while pos < len(spec):
        match = _TOKEN.match(spec, pos)
        assert match is not None, f"bad hexb spec at {spec[pos:]!r}"
        text, hexdigits = match.groups()
        out += text.encode("utf-8") if text is not None else bytes.fromhex(hexdigits)
        pos = match.end()
    return bytes(out)
