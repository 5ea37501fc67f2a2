"""``hang schema``: write the JSON Schemas of the catalog models."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hang.catalog.document import json_schemas


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``hang schema``."""
    parser = sub.add_parser("schema", help="write the catalog JSON Schemas (current and draft-00 forms)")
    parser.add_argument("--out", type=Path, default=Path("catalog_schemas"), help="directory (default catalog_schemas)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help=argparse.SUPPRESS)
    parser.set_defaults(run=run)


def render(schema: dict[str, object]) -> str:
    """The committed text of one schema file."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


async def run(args: argparse.Namespace) -> int:
    """Write one file per catalog form."""
    args.out.mkdir(parents=True, exist_ok=True)
    for name, schema in json_schemas().items():
        (args.out / name).write_text(render(schema))
        print(f"wrote {args.out / name}")
    return 0
