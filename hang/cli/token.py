"""``hang token``: generate keys and mint tokens for ``hang relay --auth-key`` (and moq-relay).

Mirrors the official ``moq-token`` CLI: ``--generate`` is ``moq-token generate``, ``--key`` with
``--root/--put/--get`` is ``moq-token sign`` (``--publish``/``--subscribe`` are accepted too), and
``--verify`` is ``moq-token verify``. Keys and tokens are interchangeable with it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from hang.relay.token import ALGORITHMS, Claims, Key


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``hang token``."""
    parser = sub.add_parser(
        "token", help="generate a key (--generate) or mint a token (--key) for `hang relay --auth-key`",
        description="Mint a token:  hang token --key KEY --root ROOM --put '' --get ''   "
                    "Generate a key:  hang token --generate KEY [--algorithm ES256 --public PUB]")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--key", type=Path, metavar="FILE", help="sign a token with this key file")
    action.add_argument("--generate", metavar="FILE", help="write a new key to FILE ('-' = stdout)")
    parser.add_argument("--verify", metavar="TOKEN", help="with --key: check TOKEN and print its claims")
    parser.add_argument("--algorithm", default="HS256", choices=ALGORITHMS, help="key algorithm (default HS256)")
    parser.add_argument("--public", type=Path, metavar="FILE",
                        help="with --generate (asymmetric algorithms): also write the public key here")
    parser.add_argument("--id", metavar="KID", help="key id (default: random)")
    parser.add_argument("--root", default="", help="the path the grants are relative to (default: everything)")
    parser.add_argument("--put", "--publish", action="append", default=[], metavar="PREFIX",
                        help="may publish under root/PREFIX (repeatable; '' = all of root; omit = nothing)")
    parser.add_argument("--get", "--subscribe", action="append", default=[], metavar="PREFIX",
                        help="may subscribe under root/PREFIX (repeatable; '' = all of root; omit = nothing)")
    parser.add_argument("--expires", type=int, metavar="UNIX", help="expiry time (exp), Unix seconds")
    parser.add_argument("--expires-in", type=int, metavar="SECONDS", help="expiry time, seconds from now")
    parser.add_argument("--issued", type=int, metavar="UNIX", help="issued-at time (iat), Unix seconds")
    parser.add_argument("-v", "--verbose", action="count", default=0, help=argparse.SUPPRESS)
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    """Generate, sign or verify, printing the result on stdout."""
    if args.generate is not None:
        key = Key.generate(args.algorithm, args.id)
        if args.public is not None:
            key.public().save(args.public)
        if args.generate == "-":
            print(key.dumps())
        else:
            key.save(args.generate)
        return 0
    key = Key.load(args.key)
    if args.verify is not None:
        claims = key.verify(args.verify.strip())
        print(json.dumps(claims.to_json(), indent=2))
        return 0
    expires = args.expires
    if args.expires_in is not None:
        expires = int(time.time()) + args.expires_in
    token = key.sign(Claims(args.root, list(args.put), list(args.get), expires, args.issued))
    sys.stdout.write(token + "\n")
    return 0
