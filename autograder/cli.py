"""The `effdl` command line: one sub-command per job, each a thin layer over a library call.

Heavy imports (torch, the grader) happen inside the handlers so that `effdl --help` and
numpy-only commands stay fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from autograder.course.settings import CourseError
from effdl import __version__


class UsageError(Exception):
    """A problem with the command line or its inputs, reported without a traceback."""


def _writable_parent(path: Path, flag: str) -> None:
    """The nearest existing folder above `path` must be a folder: a file there would only
    fail at the first write, after the work."""
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"{flag} {path}: {parent} is a file, not a folder")
            return


def out_folder(value: str, flag: str = "--out") -> Path:
    """`value` as an output folder: refused (before any work) when a file is in the way."""
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {path} is a file; expected a folder (or a new name)")
    _writable_parent(path, flag)
    return path


def out_file(value: str, flag: str = "--out") -> Path:
    """`value` as an output file: refused (before any work) when it is a folder."""
    path = Path(value)
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a folder; expected a file name")
    _writable_parent(path, flag)
    return path


def _positive_int(value: str) -> int:
    """argparse type of --workers: a whole number of at least 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{number} is not at least 1")
    return number


def _cmd_key(args: argparse.Namespace) -> int:
    from autograder import plugin
    from autograder.course.settings import load_course

    try:
        manifest = plugin.get(args.assignment)
    except plugin.UnknownAssignment as exc:
        raise UsageError(str(exc)) from exc
    course = load_course(args.course)
    if (args.student or args.roster) and course.secret is None:
        raise UsageError(
            "--student and --roster need the course secret that makes the variants: pass "
            "--course course.toml (with [course] secret = ...) or set EFFDL_COURSE"
        )
    if args.roster:
        from autograder.commands.keys import key_table
        from autograder.course.students import RosterError, read_roster

        if args.student:
            raise UsageError("give either --student or --roster, not both")
        try:
            sys.stdout.write(key_table(args.assignment, course, read_roster(Path(args.roster))))
        except RosterError as exc:
            raise UsageError(str(exc)) from exc
        return 0
    key = manifest.answer_key(manifest.variant(course.secret, args.student))
    if args.json or manifest.format_key is None:
        print(json.dumps(key, indent=2, sort_keys=True))
    else:
        print(manifest.format_key(key))
    return 0


def _cmd_lab(args: argparse.Namespace) -> int:
    try:
        return int(args.lab_run(args) or 0)
    except (FileNotFoundError, ValueError) as exc:  # data missing, a bad --data spec
        raise UsageError(str(exc)) from exc


def _cmd_train(args: argparse.Namespace) -> int:
    from effdl.train.lab import train_dense

    try:
        train_dense(data=args.data, out=Path(args.out), epochs=args.epochs, quick=args.quick)
    except (FileNotFoundError, ValueError) as exc:  # CIFAR-10 missing, bad --data spec
        raise UsageError(str(exc)) from exc
    return 0


def _cmd_grade(args: argparse.Namespace) -> int:
    from autograder.commands.grade import grade_paths
    from autograder.plugin import UnknownAssignment

    if args.class_dir is not None:
        return _cmd_grade_class(args)
    stray = [args.gradebook, args.workers is not None, args.regrade, args.times, args.roster]
    if any(stray) or args.dask is not None:
        raise UsageError(
            "--gradebook, --workers, --dask, --regrade, --times and --roster go with --class DIR"
        )
    if not args.paths:
        raise UsageError("give the submissions to grade: PATH... or --class DIR")
    if args.student and (len(args.paths) != 1 or len(args.student) != 1):
        raise UsageError(
            "--student names one student: give exactly one PATH with it "
            "(with --class DIR, --student limits the batch to the students named)"
        )
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    out = out_folder(args.out)
    try:
        return grade_paths(
            [Path(p) for p in args.paths],
            assignment=args.assignment,
            course_path=args.course,
            student=args.student[0] if args.student else None,
            out=out,
        )
    except UnknownAssignment as exc:
        raise UsageError(str(exc)) from exc


def _class_errors() -> tuple[type[Exception], ...]:
    """Errors of the class-grading commands that are the user's input, not a bug."""
    from autograder.commands.batch import BatchError
    from autograder.commands.exports import ExportError
    from autograder.commands.manual import ManualError
    from autograder.course.late import LateError
    from autograder.gradebook import GradebookError
    from autograder.plugin import UnknownAssignment
    from autograder.publishing.files import FileExistsRefused

    return (
        UnknownAssignment,
        BatchError,
        ExportError,
        GradebookError,
        LateError,
        ManualError,
        FileExistsRefused,
    )


def _store_roster(
    roster: Path,
    gradebook: Path,
    class_dir: Path,
    assignment: str = "",
    course_path: str | None = None,
) -> None:
    """Keep the roster's names and emails in the gradebook; say who has no submission, and
    which extensions name no student of the roster (a typo in an id)."""
    from autograder.commands.batch import discover
    from autograder.course.students import RosterError, read_people
    from autograder.gradebook import Gradebook
    from autograder.grading.intake import student_id_from_path

    try:
        people = read_people(roster)
        entries, _ = discover(class_dir)
    except (RosterError, *_class_errors()) as exc:
        raise UsageError(str(exc)) from exc
    with Gradebook.open(gradebook) as book:
        added, updated = book.set_people(people)
    print(f"roster: {len(people)} students ({added} new, {updated} updated) in {gradebook}")
    ids = {p.student_id for p in people}
    submitted = {e.student_id for e in entries}
    # a student whose two entries were both left out did hand something in (said above)
    named = submitted | {
        student_id_from_path(p) for p in class_dir.iterdir() if not p.name.startswith((".", "_"))
    }
    if ids - named:
        print(f"warning: no submission from {', '.join(sorted(ids - named)[:20])}")
    if submitted - ids:
        print(f"warning: not on the roster: {', '.join(sorted(submitted - ids)[:20])}")
    if course_path is not None:
        from autograder.course.settings import CourseError, load_course

        try:
            extended = set(load_course(Path(course_path)).settings(assignment).extensions)
        except CourseError:  # the batch itself says what is wrong with the file
            extended = set()
        if extended - ids:
            print(
                "warning: course.toml grants extensions to students not on the roster: "
                + ", ".join(sorted(extended - ids)[:20])
            )


def _cmd_grade_class(args: argparse.Namespace) -> int:
    from autograder.commands.batch import format_summary, grade_class

    if args.paths:
        raise UsageError(
            "give either PATH... or --class DIR, not both (to grade some students of the "
            "class, give --class DIR with --student ID for each)"
        )
    if not args.gradebook:
        raise UsageError("--class needs --gradebook PATH (an SQLite file, created if missing)")
    if args.dask is not None and args.workers is not None:
        raise UsageError("give --workers N (this machine) or --dask SCHEDULER, not both")
    _check_class_out(Path(args.class_dir), out_folder(args.out))
    _check_course_points(args.course, args.assignment)
    if args.roster:
        _store_roster(
            Path(args.roster),
            Path(args.gradebook),
            Path(args.class_dir),
            args.assignment,
            args.course or os.environ.get("EFFDL_COURSE"),
        )
    common = dict(
        regrade=args.regrade,
        course_path=args.course,
        times_csv=Path(args.times) if args.times else None,
        students=args.student,
    )
    where = (Path(args.class_dir), args.assignment, Path(args.gradebook), Path(args.out))
    try:
        if args.dask is not None:
            from autograder.commands import dask_batch

            summary = dask_batch.grade_class(*where, args.dask, **common)
        else:
            summary = grade_class(*where, workers=args.workers or 1, **common)
    except _class_errors() as exc:
        raise UsageError(str(exc)) from exc
    print(format_summary(summary, Path(args.gradebook), Path(args.out)))
    for warning in _class_warnings(Path(args.gradebook), args.assignment, args.course):
        print(f"class warning: {warning}")
    return 0


def _check_class_out(class_dir: Path, out: Path) -> None:
    """Results written into the submissions folder would be read back as submissions."""
    if not class_dir.is_dir():
        return  # the batch says what is wrong with it
    inside = class_dir.resolve()
    if out.resolve() == inside or inside in out.resolve().parents:
        raise UsageError(
            f"--out {out} is the --class folder {class_dir} or inside it: the results would "
            "be taken for submissions; write them to a folder outside it"
        )


def _check_course_points(course_path: str | None, assignment: str) -> None:
    """The course's point overrides name checks the assignment has (before any grading)."""
    from autograder.course.settings import load_course
    from autograder.grading.grade import check_points
    from autograder.plugin import UnknownAssignment

    try:
        check_points(load_course(course_path), assignment)
    except UnknownAssignment as exc:
        raise UsageError(str(exc)) from exc


def _class_warnings(gradebook: Path, assignment: str, course_path: str | None) -> list[str]:
    """What the whole class's current grades say about the grading (class_warnings)."""
    from autograder.course.settings import load_course
    from autograder.gradebook import Gradebook, GradebookError
    from autograder.publishing.class_scores import class_scores
    from autograder.publishing.class_warnings import class_warnings

    try:
        with Gradebook.open(gradebook, create=False) as book:
            students = class_scores(book, assignment, load_course(course_path))
    except GradebookError:
        return []
    return class_warnings([s.result for s in students])


def _cmd_report(args: argparse.Namespace) -> int:
    from autograder.publishing.report import write_report

    try:
        out = out_folder(args.out)
        page = write_report(Path(args.gradebook), args.assignment, out, args.course)
    except _class_errors() as exc:
        raise UsageError(str(exc)) from exc
    print(f"class report: {page}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from autograder.commands import exports, gradescope

    try:
        if args.target == "csv":
            if not args.gradebook:
                raise UsageError("export csv needs --gradebook PATH")
            out = out_file(args.out) if args.out else None
            text = exports.export_csv(
                Path(args.gradebook), args.assignment, args.format, args.course, args.title
            )
            if out is not None:
                exports.write_new(out, text, args.force)
                print(f"wrote {args.out}", file=sys.stderr)
            else:
                sys.stdout.write(text)
        else:
            if not args.out:
                raise UsageError("export gradescope needs --out FILE.zip")
            gradescope.gradescope_zip(
                args.assignment, out_file(args.out), args.course, args.force, args.allow_unsandboxed
            )
            print(f"wrote {args.out}: upload it as the Gradescope autograder")
    except _class_errors() as exc:
        raise UsageError(str(exc)) from exc
    return 0


def _cmd_manual(args: argparse.Namespace) -> int:
    from autograder.commands import manual
    from autograder.course.settings import load_course

    try:
        if args.action == "export":
            if args.csv:
                raise UsageError("manual export takes no CSV (it writes one into --out DIR)")
            if not args.out:
                raise UsageError("manual export needs --out DIR")
            lines = manual.export_manual(
                Path(args.gradebook),
                args.assignment,
                out_folder(args.out),
                args.force,
                load_course(args.course),
            )
        elif args.action == "serve":
            from autograder.commands.serve import ServeError, serve

            try:
                serve(
                    Path(args.gradebook),
                    args.assignment,
                    load_course(args.course),
                    args.host,
                    args.port,
                    args.token,
                )
            except ServeError as exc:
                raise UsageError(str(exc)) from exc
            return 0
        else:
            if not args.csv:
                raise UsageError("manual import needs the CSV of scores")
            lines = manual.import_manual(
                Path(args.gradebook), args.assignment, Path(args.csv), load_course(args.course)
            )
    except _class_errors() as exc:
        raise UsageError(str(exc)) from exc
    for line in lines:
        print(line)
    return 0


def _cmd_similarity(args: argparse.Namespace) -> int:
    from autograder.commands.similarity import SimilarityError, write_similarity

    out = out_folder(args.out)
    try:
        page = write_similarity(
            Path(args.class_dir),
            args.assignment,
            out,
            Path(args.gradebook) if args.gradebook else None,
        )
    except (SimilarityError, *_class_errors()) as exc:
        raise UsageError(str(exc)) from exc
    print(f"similarity report: {page}")
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    from autograder import plugin
    from autograder.authoring.bundles import build_canonical, build_students
    from autograder.authoring.render import BuildError
    from autograder.course.settings import load_course
    from autograder.course.students import RosterError, check_student_id, read_roster

    names = args.assignments or plugin.names()
    try:
        for name in names:
            plugin.get(name)
        course = load_course(args.course)
        if args.student and args.roster:
            raise UsageError("give either --student or --roster, not both")
        students = [check_student_id(s) for s in args.student or []]
        if args.roster:
            students = read_roster(Path(args.roster))
        if students:
            notes = build_students(
                names, students, course, out_folder(args.out or "students"), args.force
            )
        else:
            notes = build_canonical(names, course, out_folder(args.out or "."), args.force)
    except (plugin.UnknownAssignment, RosterError, BuildError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    for note in notes:
        print(note)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from autograder.commands.demo import run_demo

    return run_demo(Path(args.out))


def _cmd_selftest(args: argparse.Namespace) -> int:
    from autograder.commands.selftest import KINDS, main

    kinds = args.only or list(KINDS)
    return main(args.workers, args.quick, kinds, args.repeat, args.keep)


def _labs() -> list:
    """The plug-ins that have a lab (their manifests import no torch)."""
    from autograder import plugin

    return [m for m in plugin.registry().values() if m.lab is not None]


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
    p.add_argument("assignment", help="assignment name")
    p.add_argument("--student", help="student id (default: the canonical variant)")
    p.add_argument("--roster", metavar="CSV", help="a CSV table: every student's own answers")
    p.add_argument("--course", help="course.toml with the variant secret (or $EFFDL_COURSE)")
    p.add_argument("--json", action="store_true", help="print JSON (answer_key.json's schema)")
    p.set_defaults(func=_cmd_key)

    p = sub.add_parser("build", help="render student and solution bundles from templates/")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: all")
    p.add_argument("--student", action="append", metavar="ID", help="a student id (repeatable)")
    p.add_argument("--roster", help="CSV with a student_id column")
    p.add_argument("--course", help="course.toml with the variant secret (or $EFFDL_COURSE)")
    p.add_argument("--out", help="output folder (default: . or students/ with ids)")
    p.add_argument(
        "--force",
        action="store_true",
        help="overwrite files changed by hand, and student bundles built with other numbers",
    )
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser("demo", help="build every assignment and grade sample submissions")
    p.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser(
        "selftest",
        help="grade attacks, known mistakes, correct variants and repeats; print the figures",
    )
    p.add_argument("--workers", type=_positive_int, default=2, help="parallel graders (default: 2)")
    p.add_argument("--quick", action="store_true", help="only the fast subset (make test's)")
    p.add_argument(
        "--only",
        action="append",
        choices=["attacks", "mutants", "correct", "determinism"],
        help="run only this part (repeatable)",
    )
    p.add_argument("--repeat", type=int, help="gradings of each solution (default: 20)")
    p.add_argument("--keep", metavar="DIR", help="build the submissions in DIR and keep them")
    p.add_argument(
        "--cold",
        action="store_true",
        help="start each submission's sandbox from a fresh interpreter, not a warm zygote",
    )
    p.set_defaults(func=_cmd_selftest)

    p = sub.add_parser("grade", help="grade submissions in the sandbox")
    p.add_argument("paths", nargs="*", metavar="PATH", help="a notebook, folder or zip each")
    p.add_argument("--assignment", required=True, help="the assignment's name")
    p.add_argument(
        "--student",
        action="append",
        metavar="ID",
        help="student id (default: the file or folder name); with --class: grade (or "
        "--regrade) only this student of DIR (repeatable)",
    )
    p.add_argument("--course", help="course.toml (or $EFFDL_COURSE)")
    p.add_argument("--out", default="graded", help="output folder (default: graded/)")
    p.add_argument(
        "--class",
        dest="class_dir",
        metavar="DIR",
        help="grade every entry of DIR (one per student, named by id) instead of PATHs",
    )
    p.add_argument("--gradebook", metavar="PATH", help="with --class: the SQLite gradebook")
    p.add_argument(
        "--workers", type=_positive_int, help="with --class: parallel workers (default 1)"
    )
    p.add_argument(
        "--dask",
        metavar="SCHEDULER",
        help="with --class: grade on a Dask cluster instead: local:N, a scheduler address "
        "or a scheduler file (docs/dask.md; needs the [dask] extra)",
    )
    p.add_argument("--regrade", action="store_true", help="with --class: grade unchanged ones too")
    p.add_argument("--times", metavar="CSV", help="with --class: student_id,submitted_at CSV")
    p.add_argument(
        "--roster", metavar="CSV", help="with --class: student_id,name,email CSV for the LMS"
    )
    p.add_argument(
        "--cold",
        action="store_true",
        help="start each submission's sandbox from a fresh interpreter, not a warm zygote",
    )
    p.set_defaults(func=_cmd_grade)

    p = sub.add_parser("report", help="HTML class report of a graded assignment")
    p.add_argument("--gradebook", required=True, metavar="PATH")
    p.add_argument("--assignment", required=True)
    p.add_argument("--out", required=True, metavar="DIR", help="writes DIR/report.html")
    p.add_argument("--course", help="course.toml, for late counts (or $EFFDL_COURSE)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("export", help="scores for an LMS (csv) or a Gradescope autograder zip")
    p.add_argument("target", choices=["csv", "gradescope"])
    p.add_argument("--assignment", required=True)
    p.add_argument("--gradebook", metavar="PATH", help="csv: the gradebook to read")
    p.add_argument("--format", default="plain", choices=["plain", "canvas", "sakai"])
    p.add_argument("--title", help="csv: the LMS column's title (default: the assignment)")
    p.add_argument("--course", help="course.toml: late policy, secret (or $EFFDL_COURSE)")
    p.add_argument("--out", metavar="FILE", help="csv: default standard output")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    p.add_argument(
        "--allow-unsandboxed",
        action="store_true",
        help="gradescope: grade even where bubblewrap does not work (submissions then run "
        "unsandboxed; the default refuses, see docs/exports.md)",
    )
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("manual", help="hand-graded parts: pages to grade by question, scores in")
    p.add_argument("action", choices=["export", "import", "serve"])
    p.add_argument("csv", nargs="?", metavar="CSV", help="import: the filled-in scores CSV")
    p.add_argument("--gradebook", required=True, metavar="PATH")
    p.add_argument("--assignment", required=True)
    p.add_argument("--out", metavar="DIR", help="export: folder for the pages and the CSV")
    p.add_argument("--force", action="store_true", help="export: overwrite the scores CSV")
    p.add_argument("--course", help="course.toml: each student's own key, late policy")
    p.add_argument("--host", default="127.0.0.1", help="serve: address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="serve: port (default 8765)")
    p.add_argument(
        "--token", help="serve: a secret every request must carry (needed off 127.0.0.1)"
    )
    p.set_defaults(func=_cmd_manual)

    p = sub.add_parser("similarity", help="pairs of submissions that share answer code, ranked")
    p.add_argument("--class", dest="class_dir", required=True, metavar="DIR")
    p.add_argument("--assignment", required=True)
    p.add_argument("--out", required=True, metavar="DIR", help="writes DIR/similarity.html")
    p.add_argument("--gradebook", metavar="PATH", help="also compare the wrong outputs")
    p.set_defaults(func=_cmd_similarity)

    p = sub.add_parser("lab", help="run an assignment's experiments (effdl lab NAME --help)")
    labs = p.add_subparsers(dest="lab", metavar="ASSIGNMENT")
    labs.required = True
    for manifest in _labs():
        q = labs.add_parser(manifest.name, help=manifest.lab.help)
        manifest.lab.arguments(q)
        q.set_defaults(func=_cmd_lab, lab_run=manifest.lab.run)

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
    if getattr(args, "cold", False) and os.environ.get("EFFDL_SANDBOX") != "off":
        os.environ["EFFDL_SANDBOX"] = "cold"  # read by every sandbox run, in every worker
    try:
        return int(args.func(args) or 0)
    except (UsageError, CourseError) as exc:
        print(f"effdl {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"effdl {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and friends: stop quietly
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
