"""``hang relay``: run the embedded relay until interrupted."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from hang.cli.common import add_common, stop_on_signals, transport_config
from hang.relay import Relay, RelayConfig
from hang.relay import limits as relay_limits
from hang.relay.auth import Authenticator


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``hang relay``."""
    parser = sub.add_parser("relay", help="run a moq-lite relay (self-signed certificate, no set-up)")
    parser.add_argument("--listen", default="[::]:4443", metavar="ADDR:PORT",
                        help="UDP address for QUIC/WebTransport; TCP on the same port serves HTTP "
                             "(default [::]:4443)")
    parser.add_argument("--tls-cert", type=Path, help="certificate chain (PEM); default: generate one")
    parser.add_argument("--tls-key", type=Path, help="private key (PEM) for --tls-cert")
    parser.add_argument("--no-http", action="store_true", help="do not serve HTTP on TCP")
    parser.add_argument("--idle-timeout", type=float, default=1.0, metavar="SECONDS",
                        help="drop a silent peer after this long (PINGs keep live ones up; default 1.0)")
    access = parser.add_argument_group("access (tokens compatible with moq-relay's; see `hang token`)")
    access.add_argument("--auth-key", type=Path, metavar="FILE",
                        help="verify ?jwt= tokens with this key (JWK, as `hang token --generate` or "
                             "`moq-token generate` write it); without it everything is open")
    access.add_argument("--public", "--auth-public", action="append", default=[], metavar="PREFIX",
                        help="anyone may publish and subscribe under PREFIX without a token "
                             "(repeatable; \"\" = everything)")
    relay_limits.add_arguments(parser)
    add_common(parser)
    parser.set_defaults(run=run)


def parse_listen(text: str) -> tuple[str, int]:
    """``[::]:4443``, ``127.0.0.1:0`` or ``:4443`` -> (host, port)."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "::"
    try:
        return host, int(port)
    except ValueError:
        raise ValueError(f"--listen wants ADDR:PORT, got {text!r}") from None


async def run(args: argparse.Namespace) -> int:
    """Start the relay and serve until SIGINT/SIGTERM."""
    if (args.tls_cert is None) != (args.tls_key is None):
        raise ValueError("--tls-cert and --tls-key go together")
    host, port = parse_listen(args.listen)
    transport = transport_config(args)
    transport.idle_timeout = args.idle_timeout
    auth = Authenticator.from_file(args.auth_key, args.public) if args.auth_key or args.public else None
    config = RelayConfig(host=host, port=port, certfile=args.tls_cert, keyfile=args.tls_key,
                         versions=args.versions, http=not args.no_http, transport=transport, auth=auth,
                         limits=relay_limits.from_arguments(args))
    relay = Relay(config)
    await relay.start()
    stop = asyncio.Event()
    with stop_on_signals(stop):
        print(f"relay ready: https://localhost:{relay.port}/ (pin {relay.fingerprint}), "
              f"moql://localhost:{relay.port}/, http://localhost:{relay.port}/", flush=True)
        await stop.wait()
    await relay.stop()
    return 0
