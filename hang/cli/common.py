"""Options and helpers shared by the subcommands: logging, TLS flags, versions, signals."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from pathlib import Path

from aioquic.quic.logger import QuicFileLogger

from hang.session.client import COMPAT_PROFILES, PROTOCOLS, ClientConfig
from hang.transport.quic import TransportConfig
from hang.wire.constants import ALL_VERSIONS, Version, parse_version


def setup_logging(verbose: int) -> None:
    """One log format for every command; ``-v`` shows hang's debug lines, ``-vv`` aioquic's too."""
    logging.basicConfig(format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S",
                        level=logging.DEBUG if verbose >= 2 else logging.INFO)
    logging.getLogger("quic").setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)
    logging.getLogger("hang").setLevel(logging.DEBUG if verbose >= 1 else logging.INFO)


def add_common(parser: argparse.ArgumentParser) -> None:
    """``--verbose`` and ``--versions``."""
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (twice for QUIC)")
    parser.add_argument("--versions", type=versions_arg, default=ALL_VERSIONS,
                        help="moq-lite versions to speak, most preferred first (e.g. 05,04,03)")
    parser.add_argument("--quic-log", metavar="DIR", help="write a qlog file per QUIC connection into DIR")


def transport_config(args: argparse.Namespace) -> TransportConfig:
    """Transport settings from the common options (qlog)."""
    config = TransportConfig()
    if args.quic_log:
        Path(args.quic_log).mkdir(parents=True, exist_ok=True)
        config.quic_logger = QuicFileLogger(args.quic_log)
    return config


def add_client(parser: argparse.ArgumentParser) -> None:
    """The URL and the TLS options every client command takes."""
    parser.add_argument("url", help="relay URL: https:// (WebTransport), moql:// (raw QUIC), "
                                    "or http:// (fetch the certificate fingerprint, then https)")
    parser.add_argument("--tls-fingerprint", action="append", default=[], metavar="HEX",
                        help="accept the server certificate with this SHA-256 fingerprint")
    parser.add_argument("--tls-root", metavar="PEM", help="trust the CA certificates in this PEM file")
    parser.add_argument("--tls-disable-verify", action="store_true", help="accept any certificate (unsafe)")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="moq-lite",
                        help="moq-lite (default) or moqt-07: IETF MoQ Transport draft-07 (https:// over "
                             "WebTransport, moqt:// over raw QUIC with ALPN moq-00)")
    parser.add_argument("--compat", choices=COMPAT_PROFILES,
                        help="draft-07 only: follow a relay's deviations (cloudflare)")
    add_common(parser)


def client_config(args: argparse.Namespace) -> ClientConfig:
    """Build the client configuration from parsed options."""
    compat = getattr(args, "compat", None) or ""
    protocol = getattr(args, "protocol", "moq-lite")
    if compat and protocol != "moqt-07":
        raise ValueError(f"--compat {compat} goes with --protocol moqt-07")
    return ClientConfig(versions=args.versions, fingerprints=list(args.tls_fingerprint),
                        tls_root=args.tls_root, tls_disable_verify=args.tls_disable_verify,
                        transport=transport_config(args), protocol=protocol, compat=compat)


def versions_arg(text: str) -> tuple[Version, ...]:
    """Parse ``05,04,03`` into versions."""
    try:
        versions = tuple(parse_version(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not versions:
        raise argparse.ArgumentTypeError("name at least one version")
    return versions


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """Set ``stop`` on SIGINT or SIGTERM while inside the block."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        yield
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
