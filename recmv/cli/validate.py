"""`recmv validate`: check a subject folder and print one line per problem."""

from __future__ import annotations

import argparse

from recmv.data.frames import SubjectFolder
from recmv.data.validate import validate_subject


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a subject folder",
        description="Check a subject folder; print one line per problem, naming the file (exit 1 if any).",
    )
    parser.add_argument("subject", help="subject folder")
    parser.add_argument(
        "--body-model",
        help="SMPL model file (.npz/.pkl), needed only for an SMPL subject without subject.json",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    problems = validate_subject(args.subject, body_model_path=args.body_model)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) in {args.subject}")
        return 1
    print(f"OK: {summary(SubjectFolder(args.subject, body_model_path=args.body_model))}")
    return 0


def summary(subject: SubjectFolder) -> str:
    """ "SUBJECT (F frames, HxW, garments a, b, body anny)"."""
    height, width = subject.image_size
    meta = subject.meta
    return (
        f"{subject.root} ({subject.num_frames} frames, {height}x{width}, "
        f"garments {', '.join(meta.garments)}, body {meta.body['model']})"
    )
