"""The `effdl` command line: one sub-command per job, each a thin layer over a library call.

Heavy imports (torch, the grader) happen inside the handlers so that `effdl --help` and
numpy-only commands stay fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from autograder.course import CourseError
from effdl import __version__


class UsageError(Exception):
    """A problem with the command line or its inputs, reported without a traceback."""


def _cmd_key(args: argparse.Namespace) -> int:
    from autograder.course import load_course
    from effdl.answer_key import distributed_sparse_key, format_key
    from effdl.variants import distributed_sparse_variant

    if args.assignment != "distributed-sparse":
        raise UsageError(
            f"no numeric answer key for {args.assignment!r}: only 'distributed-sparse' has one"
        )
    course = load_course(args.course)
    variant = distributed_sparse_variant(course.secret, args.student)
    key = distributed_sparse_key(variant)
    if args.json:
        print(json.dumps(key, indent=2, sort_keys=True))
    else:
        print(format_key(key))
    return 0


def _cmd_lab(args: argparse.Namespace) -> int:
    from effdl.train.lab import run_prune_quantize_lab

    run_prune_quantize_lab(
        data=args.data, checkpoint=args.checkpoint, quick=args.quick, out_dir=Path(args.out)
    )
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from effdl.train.lab import train_dense

    train_dense(data=args.data, out=Path(args.out), epochs=args.epochs, quick=args.quick)
    return 0


def _cmd_grade(args: argparse.Namespace) -> int:
    from autograder.assignments import UnknownAssignment
    from autograder.gradecmd import grade_paths

    if args.student and len(args.paths) != 1:
        raise UsageError("--student names one student: give exactly one PATH with it")
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    try:
        return grade_paths(
            [Path(p) for p in args.paths],
            assignment=args.assignment,
            course_path=args.course,
            student=args.student,
            out=Path(args.out),
        )
    except UnknownAssignment as exc:
        raise UsageError(str(exc)) from exc


def _cmd_build(args: argparse.Namespace) -> int:
    from autograder import assignments
    from autograder.build.bundles import build_canonical, build_students
    from autograder.build.render import BuildError
    from autograder.course import load_course
    from autograder.students import RosterError, check_student_id, read_roster

    names = args.assignments or sorted(assignments.ASSIGNMENTS)
    try:
        for name in names:
            assignments.get(name)
        course = load_course(args.course)
        if args.student and args.roster:
            raise UsageError("give either --student or --roster, not both")
        students = [check_student_id(s) for s in args.student or []]
        if args.roster:
            students = read_roster(Path(args.roster))
        if students:
            notes = build_students(
                names, students, course, Path(args.out or "students"), args.force
            )
        else:
            notes = build_canonical(names, course, Path(args.out or "."), args.force)
    except (assignments.UnknownAssignment, RosterError, BuildError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    for note in notes:
        print(note)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="effdl",
        description="Efficient Deep Learning course kit: answer keys, labs, assignment builds "
        "and a sandboxed autograder.",
    )
    parser.add_argument("--version", action="version", version=f"effdl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("key", help="print the numeric answer key of an assignment variant")
    p.add_argument("assignment", help="assignment name (distributed-sparse)")
    p.add_argument("--student", help="student id (default: the canonical variant)")
    p.add_argument("--course", help="course.toml with the variant secret (or $EFFDL_COURSE)")
    p.add_argument("--json", action="store_true", help="print JSON (answer_key.json's schema)")
    p.set_defaults(func=_cmd_key)

    p = sub.add_parser("build", help="render student and solution bundles from templates/")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: all")
    p.add_argument("--student", action="append", metavar="ID", help="a student id (repeatable)")
    p.add_argument("--roster", help="CSV with a student_id column")
    p.add_argument("--course", help="course.toml with the variant secret (or $EFFDL_COURSE)")
    p.add_argument("--out", help="output folder (default: . or students/ with ids)")
    p.add_argument("--force", action="store_true", help="overwrite files changed by hand")
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser("grade", help="grade submissions in the sandbox")
    p.add_argument("paths", nargs="+", metavar="PATH", help="a notebook, folder or zip each")
    p.add_argument("--assignment", required=True, help="distributed-sparse or prune-quantize")
    p.add_argument("--student", help="student id (default: the file or folder name)")
    p.add_argument("--course", help="course.toml (or $EFFDL_COURSE)")
    p.add_argument("--out", default="graded", help="output folder (default: graded/)")
    p.set_defaults(func=_cmd_grade)

    p = sub.add_parser("lab", help="run the pruning and quantization experiments of B3-B4")
    p.add_argument("lab", choices=["prune-quantize"])
    p.add_argument("--data", required=True, help="'digits' or 'cifar10:DIR'")
    p.add_argument("--checkpoint", help="dense starting checkpoint (default: train one)")
    p.add_argument("--quick", action="store_true", help="short schedules for a smoke run")
    p.add_argument("--out", default="runs", help="output directory (default: runs/)")
    p.set_defaults(func=_cmd_lab)

    p = sub.add_parser("train", help="train a dense ResNet-20 starting checkpoint")
    p.add_argument("--data", required=True, help="'digits' or 'cifar10:DIR'")
    p.add_argument("--out", required=True, help="checkpoint file to write")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default: per data set)")
    p.add_argument("--quick", action="store_true", help="a short schedule for a smoke run")
    p.set_defaults(func=_cmd_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UsageError, CourseError) as exc:
        print(f"effdl {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"effdl {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
