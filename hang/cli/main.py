"""``hang``: parse the command line, set up logging once, run the chosen subcommand."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from hang import __version__
from hang.cli import announced, chat, demo, interop, publish, relay, schema, token, watch
from hang.cli.common import setup_logging
from hang.errors import HangError

log = logging.getLogger("hang")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="hang", description="Hang conferencing over moq-lite (Media over QUIC)")
    parser.add_argument("--version", action="version", version=f"hang {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (relay, publish, watch, demo, announced, chat, interop, schema, token):
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``hang`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    try:
        code: int = asyncio.run(args.run(args))
    except KeyboardInterrupt:
        return 130
    except (HangError, ValueError, OSError) as exc:
        if args.verbose:
            log.exception("failed")
        print(f"hang {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return code
