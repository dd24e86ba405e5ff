"""`recmv validate`: check a subject folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from recmv.data.subject import SubjectMeta, frame_stems
from recmv.data.validate import IMAGE_SUFFIXES, validate_subject


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a subject folder",
        description="Check a subject folder; print one line per problem, naming the file (exit 1 if any).",
    )
    parser.add_argument("subject", help="subject folder")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    problems = validate_subject(args.subject)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) in {args.subject}")
        return 1
    meta = SubjectMeta.load(args.subject)
    frames = len(frame_stems(Path(args.subject) / "imgs", IMAGE_SUFFIXES))
    size = "x".join(str(v) for v in reversed(meta.image_size)) if meta.image_size else "?"
    print(f"OK: {args.subject} ({frames} frames, {size}, garments {', '.join(meta.garments)}, body {meta.body['model']})")
    return 0
