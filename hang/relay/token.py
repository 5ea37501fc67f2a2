"""Relay access tokens, interchangeable with the official ``moq-token`` ones.

A key is a JWK (a JSON object, stored either as JSON or as base64url-encoded JSON, the format
``moq-token generate`` writes). A token is a compact JWS (JWT) whose claims are ``root`` (a path),
``put`` (prefixes under ``root`` the holder may publish), ``get`` (prefixes it may subscribe to),
and optionally ``exp`` / ``iat`` (Unix seconds). ``put`` and ``get`` may each be one string or a
list; an empty string grants everything under ``root``, an absent claim or empty list nothing.

Supported algorithms: HS256/384/512 (``oct`` keys), ES256/384 (``EC`` P-256/P-384) and EdDSA
(``OKP`` Ed25519). Everything is done with the ``cryptography`` package.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from hang.errors import HangError
from hang.wire.coding import join_path, strip_prefix

HMAC_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
#: Secret size ``moq-token generate`` uses per HMAC algorithm (it refuses secrets under 32 bytes).
HMAC_SIZES = {"HS256": 32, "HS384": 48, "HS512": 64}
MIN_SECRET_BYTES = 32
EC_CURVES: dict[str, tuple[str, ec.EllipticCurve, hashes.HashAlgorithm, int]] = {
    "ES256": ("P-256", ec.SECP256R1(), hashes.SHA256(), 32),
    "ES384": ("P-384", ec.SECP384R1(), hashes.SHA384(), 48),
}
ALGORITHMS = (*HMAC_HASHES, *EC_CURVES, "EdDSA")


class TokenError(HangError):
    """A key or token is malformed, signed with another key, expired, or grants nothing."""


def b64encode(data: bytes) -> str:
    """base64url without padding (JOSE)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64decode(text: str) -> bytes:
    """Inverse of :func:`b64encode` (padding optional)."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TokenError(f"bad base64url: {exc}") from None


def normalize(path: str) -> str:
    """Slashes are implicit at the boundaries and doubled ones collapse: ``/a//b/`` is ``a/b``."""
    return "/".join(part for part in path.split("/") if part)


def _paths(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise TokenError(f"claim {name!r} must be a string or a list of strings")


def _timestamp(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenError(f"claim {name!r} must be a Unix timestamp")
    return int(value)


@dataclass
class Permissions:
    """What claims grant at one connection path; prefixes are relative to that path."""

    publish: list[str] = field(default_factory=list)
    subscribe: list[str] = field(default_factory=list)


@dataclass
class Claims:
    """The payload of a token (the ``moq-token`` claim names are in the comments)."""

    #: ``root``: the path ``publish`` and ``subscribe`` are relative to.
    root: str = ""
    #: ``put``: prefixes the holder may publish under ("" = everything under root).
    publish: list[str] = field(default_factory=list)
    #: ``get``: prefixes the holder may subscribe to and see announced.
    subscribe: list[str] = field(default_factory=list)
    #: ``exp``: Unix time after which the token is refused (and its sessions closed).
    expires: int | None = None
    #: ``iat``: Unix time the token was issued (informational).
    issued: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON payload, laid out as ``moq-token`` writes it."""
        payload: dict[str, Any] = {}
        if self.root:
            payload["root"] = self.root
        if self.publish:
            payload["put"] = list(self.publish)
        if self.subscribe:
            payload["get"] = list(self.subscribe)
        if self.expires is not None:
            payload["exp"] = self.expires
        if self.issued is not None:
            payload["iat"] = self.issued
        return payload

    @classmethod
    def from_json(cls, payload: Any) -> Claims:
        """Parse a payload; unknown claims are ignored, ``put``/``get`` may be a string or a list."""
        if not isinstance(payload, dict):
            raise TokenError("token payload is not a JSON object")
        root = payload.get("root") or ""
        if not isinstance(root, str):
            raise TokenError("claim 'root' must be a string")
        return cls(root, _paths(payload.get("put"), "put"), _paths(payload.get("get"), "get"),
                   _timestamp(payload.get("exp"), "exp"), _timestamp(payload.get("iat"), "iat"))

    def validate(self) -> None:
        """A token that grants neither publishing nor subscribing is useless and refused."""
        if not self.publish and not self.subscribe:
            raise TokenError("token grants neither put nor get")

    def authorize(self, path: str) -> Permissions:
        """The grants at connection ``path``, rebased so each prefix is relative to it.

        ``path`` must extend the root (the extra part narrows every grant) or be a parent of it
        (the rest of the root is prepended); otherwise, or when nothing is left, it is refused.
        """
        path, root = normalize(path), normalize(self.root)
        if (below := strip_prefix(root, path)) is not None:
            suffix, prefix = below, ""
        elif (above := strip_prefix(path, root)) is not None:
            suffix, prefix = "", above
        else:
            raise TokenError(f"path {path!r} is outside the token's root {root!r}")

        def rebase(grants: list[str]) -> list[str]:
            kept = []
            for grant in grants:
                granted = join_path(prefix, normalize(grant))
                remaining = strip_prefix(suffix, granted)
                if remaining is not None:
                    kept.append(remaining)
                elif strip_prefix(granted, suffix) is not None:
                    kept.append("")
            return kept

        permissions = Permissions(rebase(self.publish), rebase(self.subscribe))
        if not permissions.publish and not permissions.subscribe:
            raise TokenError(f"the token grants nothing at {path!r}")
        return permissions


@dataclass
class Key:
    """A JWK that signs and/or verifies tokens."""

    algorithm: str
    #: The JWK members describing the key material (``kty``, ``k`` / ``crv``, ``x``, ``y``, ``d``).
    material: dict[str, str]
    kid: str | None = None
    operations: list[str] = field(default_factory=lambda: ["sign", "verify"])
    #: A ``moq-token`` key scope, kept as found (signing and verifying check it).
    scope: dict[str, Any] | None = None

    # -- construction and files ------------------------------------------------------------

    @classmethod
    def generate(cls, algorithm: str = "HS256", kid: str | None = None) -> Key:
        """A new random key (with a random 16-hex-digit key id unless one is given)."""
        kid = kid or secrets.token_hex(8)
        if algorithm in HMAC_HASHES:
            return cls(algorithm, {"kty": "oct", "k": b64encode(secrets.token_bytes(HMAC_SIZES[algorithm]))}, kid)
        if algorithm in EC_CURVES:
            crv, curve, _, size = EC_CURVES[algorithm]
            private = ec.generate_private_key(curve)
            numbers = private.private_numbers()
            return cls(algorithm, {
                "kty": "EC", "crv": crv,
                "x": b64encode(numbers.public_numbers.x.to_bytes(size, "big")),
                "y": b64encode(numbers.public_numbers.y.to_bytes(size, "big")),
                "d": b64encode(numbers.private_value.to_bytes(size, "big")),
            }, kid)
        if algorithm == "EdDSA":
            ed = ed25519.Ed25519PrivateKey.generate()
            return cls(algorithm, {
                "kty": "OKP", "crv": "Ed25519",
                "x": b64encode(ed.public_key().public_bytes_raw()), "d": b64encode(ed.private_bytes_raw()),
            }, kid)
        raise TokenError(f"unsupported algorithm {algorithm!r} (use one of {', '.join(ALGORITHMS)})")

    @classmethod
    def from_jwk(cls, jwk: Any) -> Key:
        """Import a JWK object (a missing ``kty`` means ``oct``, as upstream)."""
        if not isinstance(jwk, dict):
            raise TokenError("a key must be a JSON object")
        algorithm = jwk.get("alg")
        if algorithm not in ALGORITHMS:
            raise TokenError(f"unsupported key algorithm {algorithm!r}")
        material = {k: v for k, v in jwk.items() if k in ("kty", "k", "crv", "x", "y", "d") and isinstance(v, str)}
        material.setdefault("kty", "oct")
        operations = jwk.get("key_ops", ["sign", "verify"])
        scope = jwk.get("scope")
        key = cls(algorithm, material, jwk.get("kid"), list(operations), scope if isinstance(scope, dict) else None)
        key._check()
        return key

    @classmethod
    def loads(cls, text: str) -> Key:
        """Parse a key file's text: JSON, or base64url-encoded JSON (what ``moq-token`` writes)."""
        text = text.strip()
        try:
            raw = text if text.startswith("{") else b64decode(text).decode()
            return cls.from_jwk(json.loads(raw))
        except (UnicodeDecodeError, ValueError) as exc:
            raise TokenError(f"not a JWK: {exc}") from None

    @classmethod
    def load(cls, path: str | Path) -> Key:
        """Read a key file."""
        return cls.loads(Path(path).read_text())

    def to_jwk(self) -> dict[str, Any]:
        """The JWK object."""
        jwk: dict[str, Any] = {"alg": self.algorithm, "key_ops": list(self.operations), **self.material}
        if self.kid:
            jwk["kid"] = self.kid
        if self.scope is not None:
            jwk["scope"] = self.scope
        return jwk

    def dumps(self) -> str:
        """The key file text: base64url-encoded JSON, as ``moq-token generate`` writes it."""
        return b64encode(json.dumps(self.to_jwk(), separators=(",", ":")).encode())

    def save(self, path: str | Path) -> None:
        """Write the key file; private material is written owner-only (0600)."""
        path = Path(path)
        if self.is_private:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as file:
                file.write(self.dumps())
        else:
            path.write_text(self.dumps())

    @property
    def is_private(self) -> bool:
        """True when the key can sign (a secret or a private half)."""
        return self.material.get("kty") == "oct" or "d" in self.material

    def public(self) -> Key:
        """The verify-only public half of an asymmetric key."""
        if self.material.get("kty") == "oct":
            raise TokenError("a symmetric key has no public half")
        material = {k: v for k, v in self.material.items() if k != "d"}
        return Key(self.algorithm, material, self.kid, ["verify"], self.scope)

    def _check(self) -> None:
        kty = self.material.get("kty")
        if self.algorithm in HMAC_HASHES:
            if kty != "oct" or "k" not in self.material:
                raise TokenError(f"{self.algorithm} needs an oct key with 'k'")
            if len(b64decode(self.material["k"])) < MIN_SECRET_BYTES:
                raise TokenError(f"the secret must be at least {MIN_SECRET_BYTES} bytes")
        elif self.algorithm in EC_CURVES:
            crv, _, _, size = EC_CURVES[self.algorithm]
            if kty != "EC" or self.material.get("crv") != crv:
                raise TokenError(f"{self.algorithm} needs an EC {crv} key")
            if any(len(b64decode(self.material.get(c, ""))) != size for c in ("x", "y")):
                raise TokenError(f"bad {crv} coordinates")
        elif kty != "OKP" or self.material.get("crv") != "Ed25519":
            raise TokenError("EdDSA needs an OKP Ed25519 key")

    # -- signing and verifying -------------------------------------------------------------

    def sign(self, claims: Claims) -> str:
        """A compact JWT carrying ``claims``."""
        if "sign" not in self.operations or not self.is_private:
            raise TokenError("this key cannot sign (a public key?)")
        claims.validate()
        self._check_scope(claims)
        header: dict[str, Any] = {"typ": "JWT", "alg": self.algorithm}
        if self.kid:
            header["kid"] = self.kid
        signing_input = (b64encode(json.dumps(header, separators=(",", ":")).encode()) + "."
                         + b64encode(json.dumps(claims.to_json(), separators=(",", ":")).encode()))
        return signing_input + "." + b64encode(self._signature(signing_input.encode()))

    def verify(self, token: str, now: float | None = None) -> Claims:
        """Check the signature, algorithm, expiry and scope; return the claims."""
        if "verify" not in self.operations:
            raise TokenError("this key cannot verify")
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenError("not a compact JWT")
        try:
            header = json.loads(b64decode(parts[0]))
            payload = json.loads(b64decode(parts[1]))
        except (UnicodeDecodeError, ValueError):
            raise TokenError("undecodable token") from None
        if not isinstance(header, dict) or header.get("alg") != self.algorithm:
            raise TokenError(f"token algorithm is not the key's {self.algorithm}")
        if not self._valid_signature(f"{parts[0]}.{parts[1]}".encode(), b64decode(parts[2])):
            raise TokenError("bad token signature")
        claims = Claims.from_json(payload)
        if claims.expires is not None and claims.expires < (time.time() if now is None else now):
            raise TokenError("token expired")
        claims.validate()
        self._check_scope(claims)
        return claims

    def _signature(self, data: bytes) -> bytes:
        if self.algorithm in HMAC_HASHES:
            return hmac.new(b64decode(self.material["k"]), data, HMAC_HASHES[self.algorithm]).digest()
        if self.algorithm in EC_CURVES:
            _, curve, digest, size = EC_CURVES[self.algorithm]
            private = ec.derive_private_key(int.from_bytes(b64decode(self.material["d"]), "big"), curve)
            r, s = decode_dss_signature(private.sign(data, ec.ECDSA(digest)))
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")
        return ed25519.Ed25519PrivateKey.from_private_bytes(b64decode(self.material["d"])).sign(data)

    def _valid_signature(self, data: bytes, signature: bytes) -> bool:
        if self.algorithm in HMAC_HASHES:
            return hmac.compare_digest(self._signature(data), signature)
        try:
            if self.algorithm in EC_CURVES:
                _, curve, digest, size = EC_CURVES[self.algorithm]
                if len(signature) != 2 * size:
                    return False
                public = ec.EllipticCurvePublicNumbers(int.from_bytes(b64decode(self.material["x"]), "big"),
                                                       int.from_bytes(b64decode(self.material["y"]), "big"),
                                                       curve).public_key()
                der = encode_dss_signature(int.from_bytes(signature[:size], "big"),
                                           int.from_bytes(signature[size:], "big"))
                public.verify(der, data, ec.ECDSA(digest))
            else:
                ed25519.Ed25519PublicKey.from_public_bytes(b64decode(self.material["x"])).verify(signature, data)
        except (InvalidSignature, ValueError):
            return False
        return True

    def _check_scope(self, claims: Claims) -> None:
        """A scoped key (``moq-token generate --publish/--subscribe``) signs only within its scope."""
        if self.scope is None:
            return
        root = str(self.scope.get("root") or "")
        for granted, requested in ((_paths(self.scope.get("put"), "put"), claims.publish),
                                   (_paths(self.scope.get("get"), "get"), claims.subscribe)):
            for request in requested:
                full = join_path(normalize(claims.root), normalize(request))
                if not any(strip_prefix(join_path(normalize(root), normalize(g)), full) is not None
                           for g in granted):
                    raise TokenError("the token exceeds the key's scope")
