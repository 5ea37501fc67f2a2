"""Field types of the catalog wire format: lowercase hex bytes, base64 bytes, JSON-safe integers."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, StrictInt, WithJsonSchema

_HEX = re.compile(r"^(?:[0-9a-fA-F]{2})*$")


def _from_hex(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if not isinstance(value, str) or not _HEX.match(value):
        raise ValueError("must be a hex string of whole bytes (e.g. '01a2ff')")
    return bytes.fromhex(value)


def _from_base64(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if not isinstance(value, str):
        raise ValueError("must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise ValueError("must be valid base64") from None


#: Bytes carried as a lowercase hex string (WebCodecs ``description``).
Hex = Annotated[bytes, BeforeValidator(_from_hex), PlainSerializer(lambda b: b.hex(), return_type=str),
                WithJsonSchema({"type": "string", "pattern": "^([0-9a-fA-F]{2})*$", "contentEncoding": "base16"})]
#: Bytes carried as base64 (the CMAF ``init`` segment, the only base64 field).
Base64 = Annotated[bytes, BeforeValidator(_from_base64),
                   PlainSerializer(lambda b: base64.b64encode(b).decode(), return_type=str),
                   WithJsonSchema({"type": "string", "contentEncoding": "base64"})]
#: A JSON integer that JavaScript represents exactly (0 .. 2^53 - 1); strings and floats are refused.
U53 = Annotated[StrictInt, Field(ge=0, le=(1 << 53) - 1)]
#: A priority byte.
U8 = Annotated[StrictInt, Field(ge=0, le=255)]
