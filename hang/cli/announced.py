"""``hang announced``: list the broadcasts under a prefix, live."""

from __future__ import annotations

import argparse
import asyncio

from hang.cli.common import add_client, client_config, stop_on_signals
from hang.session.client import connect


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``hang announced``."""
    parser = sub.add_parser("announced", help="print broadcasts as they are announced (+) and end (-)")
    add_client(parser)
    parser.add_argument("--prefix", default="", help="only broadcasts under this path prefix")
    parser.add_argument("--timeout", type=float, default=0.0,
                        help="stop after this many seconds (default: run until interrupted)")
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    """Print ``+ path`` / ``- path`` lines until interrupted."""
    stop = asyncio.Event()
    async with connect(args.url, client_config(args)) as session:

        async def watch() -> None:
            async for item in session.announced(args.prefix):
                print(f"{'+' if item.active else '-'} {item.path}", flush=True)

        task = asyncio.ensure_future(watch())
        with stop_on_signals(stop):
            waiters = {task, asyncio.ensure_future(stop.wait()), asyncio.ensure_future(session.wait_closed())}
            done, pending = await asyncio.wait(waiters, timeout=args.timeout or None,
                                               return_when=asyncio.FIRST_COMPLETED)
            for other in pending:
                other.cancel()
            if task in done:
                task.result()
    return 0
