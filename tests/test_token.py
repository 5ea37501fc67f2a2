"""Keys and tokens against fixtures made by the official Rust ``moq-token`` CLI, plus the path rules."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from hang.relay.auth import Authenticator, Grants, split_path
from hang.relay.token import Claims, Key, Permissions, TokenError, b64encode

# Published with moq-dev/moq (js/token/src/interop.test.ts): made by `moq-token generate` and
# `moq-token sign --key KEY --root demo --publish alice --subscribe bob`.
RUST_HS256_KEY = json.dumps({"alg": "HS256", "key_ops": ["verify", "sign"], "kty": "oct",
                             "k": "jvS2B_SKkvhtObaiKg9n2vq_Iqdus-nVCVVYBWf0BQA", "kid": "d55b1f13e6bda281"})
RUST_HS256_TOKEN = ("eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiIsImtpZCI6ImQ1NWIxZjEzZTZiZGEyODEifQ."
                    "eyJyb290IjoiZGVtbyIsInB1dCI6WyJhbGljZSJdLCJnZXQiOlsiYm9iIl19."
                    "eyOkZtTtj_MDkLF4Eu11cygb7B_6DyP-6e0TtwVE4UE")
RUST_EDDSA_PRIVATE = json.dumps({"alg": "EdDSA", "key_ops": ["sign", "verify"], "kty": "OKP", "crv": "Ed25519",
                                 "x": "S9n3tEG677fSNpa0Ftf46OPBte5y1pTwvm4fPkEw_Z8",
                                 "d": "EhFsuE3CFkJoQpZCT2Wwr6YF7ZwjsaEIgbwO4Uc4b5U", "kid": "dfab9113ea85dc27"})
RUST_EDDSA_PUBLIC = json.dumps({"alg": "EdDSA", "key_ops": ["verify"], "kty": "OKP", "crv": "Ed25519",
                                "x": "S9n3tEG677fSNpa0Ftf46OPBte5y1pTwvm4fPkEw_Z8", "kid": "dfab9113ea85dc27"})
# `moq-token sign --root room --publish stream1 --publish stream2 --subscribe feed1`
RUST_EDDSA_TOKEN = ("eyJ0eXAiOiJKV1QiLCJhbGciOiJFZERTQSIsImtpZCI6ImRmYWI5MTEzZWE4NWRjMjcifQ."
                    "eyJyb290Ijoicm9vbSIsInB1dCI6WyJzdHJlYW0xIiwic3RyZWFtMiJdLCJnZXQiOlsiZmVlZDEiXX0."
                    "jezhAgTHQHdYkc15CBZP8zPKKJ0z5oVRwON4wPHeQ6xvIhoM5IkCs_4YRCEoG74t99pdVTQrwAMNrlfKm2O6DA")


def test_rust_hs256_token_verifies_and_ours_is_byte_identical() -> None:
    key = Key.loads(RUST_HS256_KEY)
    claims = key.verify(RUST_HS256_TOKEN)
    assert claims == Claims("demo", ["alice"], ["bob"])
    # Same header and payload layout as moq-token, so HMAC gives the very same token.
    assert key.sign(Claims("demo", ["alice"], ["bob"])) == RUST_HS256_TOKEN


def test_rust_eddsa_token_verifies_with_the_public_key_and_ours_matches() -> None:
    claims = Key.loads(RUST_EDDSA_PUBLIC).verify(RUST_EDDSA_TOKEN)
    assert claims == Claims("room", ["stream1", "stream2"], ["feed1"])
    assert Key.loads(RUST_EDDSA_PRIVATE).sign(claims) == RUST_EDDSA_TOKEN  # Ed25519 is deterministic


def test_base64url_key_file_as_moq_token_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "key.jwk"
    path.write_text(b64encode(RUST_HS256_KEY.encode()))
    assert Key.load(path).verify(RUST_HS256_TOKEN).root == "demo"


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512", "ES256", "ES384", "EdDSA"])
def test_generate_save_load_sign_verify(tmp_path: Path, algorithm: str) -> None:
    key = Key.generate(algorithm)
    key.save(tmp_path / "private.jwk")
    assert stat.S_IMODE(os.stat(tmp_path / "private.jwk").st_mode) == 0o600
    loaded = Key.load(tmp_path / "private.jwk")
    token = loaded.sign(Claims("room", [""], []))
    verifier = loaded if algorithm.startswith("HS") else loaded.public()
    assert verifier.verify(token) == Claims("room", [""], [])
    if not algorithm.startswith("HS"):
        with pytest.raises(TokenError):
            verifier.sign(Claims("room", [""], []))


def test_refused_tokens() -> None:
    key = Key.generate("HS256")
    good = key.sign(Claims("", [""], [""]))
    head, body, sig = good.split(".")
    tampered = head + "." + b64encode(json.dumps({"put": [""], "get": [""], "root": "x"}).encode()) + "." + sig
    for token, why in [
        (key.sign(Claims("", [""], [""], expires=int(time.time()) - 10)), "expired"),
        (tampered, "signature"),
        (Key.generate("HS256").sign(Claims("", [""], [""])), "signature"),
        (Key.generate("ES256").sign(Claims("", [""], [""])), "algorithm"),
        ("not.a.token", "undecodable"),
        (head + "." + body, "compact"),
    ]:
        with pytest.raises(TokenError, match=why):
            key.verify(token)
    with pytest.raises(TokenError, match="neither"):
        key.sign(Claims("room"))


def test_put_and_get_accept_a_string_or_a_list() -> None:
    assert Claims.from_json({"root": "t", "put": "one", "get": ["a", "b"]}) == Claims("t", ["one"], ["a", "b"])
    assert Claims("", ["x"]).to_json() == {"put": ["x"]}


@pytest.mark.parametrize(("root", "put", "get", "path", "expected"), [
    ("room/123", ["alice"], [""], "room/123", Permissions(["alice"], [""])),
    ("room/123", ["alice"], ["bob"], "room/123/alice", Permissions([""], [])),
    ("demo", ["alice"], [""], "/", Permissions(["demo/alice"], ["demo"])),
    ("", [], ["demo"], "demo/room", Permissions([], [""])),
    ("/room/123/", [], ["/bob/"], "//room/123//", Permissions([], ["bob"])),
])
def test_authorize_rebases_onto_the_connection_path(root: str, put: list[str], get: list[str], path: str,
                                                    expected: Permissions) -> None:
    assert Claims(root, put, get).authorize(path) == expected


@pytest.mark.parametrize(("root", "get", "path"), [("foo", [""], "foobar"), ("demo", [""], "other"),
                                                   ("", ["demo"], "other")])
def test_authorize_refuses_unrelated_paths(root: str, get: list[str], path: str) -> None:
    with pytest.raises(TokenError):
        Claims(root, [], get).authorize(path)


def test_split_path_takes_the_last_non_empty_jwt() -> None:
    assert split_path("/foo?a=1&jwt=ab%20cd") == ("/foo", "ab cd")
    assert split_path("/foo?jwt=first&jwt=second") == ("/foo", "second")
    assert split_path("/foo?jwt=") == ("/foo", None)
    assert split_path("") == ("/", None)


def test_public_prefix_grants_anonymous_access_where_it_overlaps() -> None:
    auth = Authenticator(None, ["anon"])
    assert auth.authorize("/anon/room") == Grants(("",), ("",))
    assert auth.authorize("/") == Grants(("anon",), ("anon",))
    with pytest.raises(Exception, match="expected"):
        auth.authorize("/private")


def test_grants_match_per_segment() -> None:
    grants = Grants(("alice",), ("",))
    assert grants.can_publish("alice") and grants.can_publish("alice/cam")
    assert not grants.can_publish("alicebob") and not grants.can_publish("bob")
    assert grants.can_subscribe("anything/at/all")
