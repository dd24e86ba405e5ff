"""`recmv` entry point: one sub-command per module in this package."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from recmv import __version__
from recmv.errors import RecmvError

# Sub-command modules, in the order `recmv --help` lists them. Each defines
# `register(subparsers)`, which adds its parser and sets `func(args) -> int`.
COMMAND_MODULES = (
    "synth",
    "prepare",
    "validate",
    "skinning",
    "fit",
    "extract",
    "eval",
    "report",
    "bench",
    "batch",
    "demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recmv",
        description="Reconstruct separate, open garment meshes from a monocular video of a clothed person.",
    )
    parser.add_argument("--version", action="version", version=f"recmv {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"recmv.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # Anny logs every cache load at INFO; keep its chatter for -v.
    logging.getLogger("anny").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except RecmvError as error:
        print(f"recmv {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
