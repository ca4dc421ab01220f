"""`effdl selftest`: measure what the grader withstands, on real submissions, end to end.

Four kinds of submission, each built from the committed solution bundle and graded through
`grade_submission` (the batch attack through the `effdl grade` command line), with `workers`
threads grading side by side, each on its own sandbox slot:

- attacks (tests/adversarial/<assignment>/*.py, header `# effdl-attack:`): the attack gains
  no points (its parts score 0), the honest parts keep theirs (exactly `expect_lost` lose
  points), the grader goes on (every attack is followed by more grading in the same worker),
  the feedback says what happened (`feedback_contains`), the host is unharmed (sentinel
  files the attack tries to write stay absent, files it tries to change keep their bytes, no
  process of the sandbox's uid survives, nothing on the grader's disk outside the run's
  output folder grows, the grader's own files are unchanged), what is made of the result
  stays small (the stored result, results.json and the feedback page under ARTIFACT_CAPS)
  and the solutions graded beside the attacks get exactly the grade they get alone;
- mutants (tests/mutants/<assignment>/*.py, `# effdl-sample:` header): one wrong
  implementation each; exactly the checks in `expect_lost` lose points, and their messages
  contain every `message_contains`;
- correct variants (tests/correct/<assignment>/*.py): correct but different; full marks;
- determinism: each solution graded `repeat` times gives identical results (timings aside).

An attack file is the code a student would write (a cell appended to the solution notebook,
or swapped in with `replaces=`), plus header fields: `build=` how the submission is made
(cell, zip, bytes, cells, file, othervariant, cli, batch; see BUILDERS, and selftest_class
for the class-folder attacks graded with `effdl grade --class`), `tag=` the appended cell's
role (answer, setup, none), `expect_lost=`, `zero=` (the lost checks that must score nothing;
default all of them), `graded=no` (the upload must be refused as not gradable, with its
reason), `feedback_contains=` (repeatable), `max_seconds=`, `cost=` (rough seconds, to
start slow ones first), `regrade=N` (graded N times: every grade must be the same),
`threat=` (the kind of threat, counted apart in the figures), `quick=1` (part of the fast
subset `make test` runs) and the builder's own fields. In the payload, @SENTINEL@ is a folder
on the grader's machine that must stay empty, @VICTIM@ a file there whose bytes must not
change, @REPO@ the repository, @HOSTTMP@ the grader's temp folder and (build=cli)
@CLI_VICTIM@ the results.json that
`effdl grade` wrote for the student graded just before.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from autograder import plugin, sandbox
from autograder.authoring import samples
from autograder.authoring.render import MANIFEST as MANIFEST_NAME
from autograder.authoring.render import render_bundle, write_bundle
from autograder.commands.selftest_class import batch_attack
from autograder.course.settings import Course
from autograder.grading import suite
from autograder.grading.grade import grade_submission
from autograder.grading.result import GradeResult
from autograder.grading.score import score_of
from autograder.publishing.feedback import render_feedback
from autograder.publishing.results_json import results_dict
from autograder.sandbox.cleanup import remove_tree

REPO = plugin.REPO
TESTS = REPO / "tests"
ATTACK_HEADER = "# effdl-attack:"
# The kinds of threat an attack's `threat=` names, as the figures say them.
THREATS = {
    "amplification": "values too big for the trusted side",
    "class": "one submission stopping a class batch",
    "nondeterminism": "answers that change between gradings",
    "odd-values": "odd values crashing trusted code",
    "records": "call results forged by student code",
    "staging": "uploads that crash the staging",
    "supervisor": "student code reaching the supervisor",
    "times": "file times as submission times",
    "vacuous": "code that does nothing, earning what a right answer would",
    "variant": "another student's notebook",
}
KINDS = ("attacks", "mutants", "correct", "determinism")
VICTIM_BYTES = b"the grade the grader wrote; a submission must not change it\n"
# What the attacks try to change on the grader's machine (by path, through @REPO@).
GUARDED = ("solutions", "autograder/plugins", "tests/mutants", "tests/correct", "tests/adversarial")
# What a result may grow to: a gradebook row holds 8 MiB, and a page is read in a browser.
ARTIFACT_CAPS = {
    "the stored result": 8 * 2**20,
    "results.json": 8 * 2**20,
    "the feedback page": 8 * 2**20,
}
OUTSIDE_GROWTH = 2**20  # bytes a run may add to the grader's disk outside its output folder


# ----------------------------------------------------------------------------- catalogue
def mutants(assignment: str) -> list[samples.Sample]:
    return samples.samples(assignment, TESTS / "mutants")


def correct_variants(assignment: str) -> list[samples.Sample]:
    return samples.samples(assignment, TESTS / "correct")


def attacks(assignment: str) -> list[samples.Sample]:
    return samples.samples(assignment, TESTS / "adversarial", ATTACK_HEADER)


def catalogue(quick: bool = False) -> dict[str, list[samples.Sample]]:
    """Every catalogue entry by kind; `quick` keeps the entries marked quick=1."""
    out: dict[str, list[samples.Sample]] = {"attacks": [], "mutants": [], "correct": []}
    for name in plugin.names():
        out["attacks"] += attacks(name)
        out["mutants"] += mutants(name)
        out["correct"] += correct_variants(name)
    if quick:
        out = {k: [s for s in v if s.field("quick") == "1"] for k, v in out.items()}
    return out


# ----------------------------------------------------------------------------- building
@dataclasses.dataclass
class Context:
    """Where a run keeps its submissions, and the host files attacks must not touch."""

    root: Path

    def sentinel_dir(self, name: str) -> Path:
        return self.root / "host" / name

    def victim(self, name: str) -> Path:
        return self.sentinel_dir(name) / "victim-results.json"

    def prepare_host(self, name: str) -> None:
        """A folder and a file anyone could write to, were they reachable from the sandbox."""
        folder = self.sentinel_dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o777)
        self.victim(name).write_bytes(VICTIM_BYTES)
        self.victim(name).chmod(0o666)

    def host_problems(self, name: str) -> list[str]:
        folder = self.sentinel_dir(name)
        extra = sorted(p.name for p in folder.iterdir() if p != self.victim(name))
        problems = [f"the attack wrote {extra} on the grader's machine"] if extra else []
        if self.victim(name).read_bytes() != VICTIM_BYTES:
            problems.append("the attack changed a file on the grader's machine")
        return problems

    def payload(self, sample: samples.Sample) -> str:
        text = sample.path.read_text(encoding="utf-8")
        for key, value in (
            ("@SENTINEL@", str(self.sentinel_dir(sample.name))),
            ("@VICTIM@", str(self.victim(sample.name))),
            ("@REPO@", str(REPO)),
            ("@HOSTTMP@", tempfile.gettempdir()),
        ):
            text = text.replace(key, value)
        return text


def _solution_copy(assignment: str, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    ignore = shutil.ignore_patterns("answer_key.json", "rubric.md", ".effdl-build.json")
    shutil.copytree(plugin.get(assignment).solution_dir, dest, ignore=ignore)
    return dest


def _notebook(folder: Path, assignment: str) -> Path:
    return folder / f"{assignment}.ipynb"


def append_cell(notebook: Path, source: str, tag: str | None) -> None:
    """Append a code cell (with a role tag, or untagged when tag is None or 'none')."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    tags = [] if tag in (None, "none") else [tag]
    nb["cells"].append(
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {"tags": tags},
            "outputs": [],
            "source": source,
        }
    )
    notebook.write_text(json.dumps(nb, indent=1) + "\n", encoding="utf-8")


def build_base(sample: samples.Sample, ctx: Context, dest: Path) -> Path:
    """The solution with the sample's code: swapped in (replaces=) or appended as a cell."""
    if sample.replaces:
        copy = dataclasses.replace(sample, path=dest.parent / f"{sample.name}.payload.py")
        dest.parent.mkdir(parents=True, exist_ok=True)
        copy.path.write_text(ctx.payload(sample), encoding="utf-8")
        samples.materialize(copy, plugin.get(sample.assignment).solution_dir, dest)
    else:
        _solution_copy(sample.assignment, dest)
    build = sample.field("build", "cell")
    if not sample.replaces and (build in ("cell", "zip", "cli", "batch") or sample.field("tag")):
        append_cell(_notebook(dest, sample.assignment), ctx.payload(sample), sample.field("tag"))
    return dest


def build_zip(sample: samples.Sample, ctx: Context, dest: Path) -> Path:
    """A zip of the submission folder plus hostile entries (entries=symlink,dotdot,...)."""
    folder = build_base(sample, ctx, dest.parent / f"{sample.name}-folder")
    target = dest.with_suffix(".zip")
    inner = sample.field("inner", "submission")
    sentinel = ctx.sentinel_dir(sample.name)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, f"{inner}/{path.relative_to(folder).as_posix()}")
        for entry in (sample.field("entries") or "").split(","):
            if entry == "symlink":
                info = zipfile.ZipInfo(f"{inner}/passwd_link")
                info.external_attr = (0o120777 << 16) | 0x20
                zf.writestr(info, "/etc/passwd")
                info = zipfile.ZipInfo(f"{inner}/sentinel_link")
                info.external_attr = (0o120777 << 16) | 0x20
                zf.writestr(info, str(sentinel))
            elif entry == "dotdot":
                depth = "../" * (len(sentinel.parts) + 2)
                zf.writestr(f"{inner}/{depth}{str(sentinel).lstrip('/')}/dotdot.txt", "escaped")
                zf.writestr(f"{inner}/../escaped.txt", "escaped")
            elif entry == "absolute":
                zf.writestr(f"{sentinel}/absolute.txt", "escaped")
            elif entry == "bomb":
                zf.writestr(f"{inner}/bomb.bin", b"\0" * (200 * 1024 * 1024))
            elif entry == "samename":
                zf.writestr(f"{inner}/{inner}", "a file named like its folder")
            elif entry == "fileanddir":  # a file, then a folder of the same name
                zf.writestr(f"{inner}/extra", "a file")
                zf.writestr(f"{inner}/extra/readme.txt", "in a folder named like the file")
            elif entry == "dirandfile":  # a folder, then a file of the same name
                zf.writestr(f"{inner}/notes/todo.txt", "in a folder")
                zf.writestr(f"{inner}/notes", "a file named like the folder")
            elif entry == "flattenclash":  # the name the staging once moved the folder to
                zf.writestr(f"{inner}/.effdl-unpacked-{inner}/x.txt", "a folder's own name")
            elif entry == "longname":
                zf.writestr(f"{inner}/{'n' * 300}.txt", "a name longer than a file system takes")
    shutil.rmtree(folder)
    return target


def build_bytes(sample: samples.Sample, ctx: Context, dest: Path) -> Path:
    """The submission with its notebook's bytes damaged (mutate=truncate|nonutf8|bom|crlf),
    or replaced by 3,000 random bytes (mutate=random)."""
    folder = build_base(sample, ctx, dest)
    notebook = _notebook(folder, sample.assignment)
    raw = notebook.read_bytes()
    mode = sample.field("mutate")
    if mode == "truncate":
        raw = raw[: len(raw) // 2]
    elif mode == "nonutf8":
        marker = b"@BADBYTES@"
        assert marker in raw, "the payload needs an @BADBYTES@ marker"
        raw = raw.replace(marker, b"\xff\xfe\xc3\x28 \xed\xa0\x80")
    elif mode == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif mode == "random":
        raw = random.Random(int(sample.field("seed", "0") or 0)).randbytes(3000)
    elif mode == "crlf":
        nb = json.loads(raw)
        for cell in nb["cells"]:
            source = cell["source"]
            text = "".join(source) if isinstance(source, list) else source
            cell["source"] = text.replace("\n", "\r\n")
        raw = json.dumps(nb).encode()
    else:
        raise ValueError(f"{sample.name}: unknown mutate={mode!r}")
    notebook.write_bytes(raw)
    return folder


def build_cells(sample: samples.Sample, ctx: Context, dest: Path) -> Path:
    """The submission with the payload appended as `count` cells (NNNN is the cell number)."""
    folder = _solution_copy(sample.assignment, dest)
    notebook = _notebook(folder, sample.assignment)
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    text = ctx.payload(sample)
    tags = [] if sample.field("tag") in (None, "none") else [sample.field("tag")]
    for n in range(int(sample.field("count", "1") or 1)):
        nb["cells"].append(
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": {"tags": tags},
                "outputs": [],
                "source": text.replace("NNNN", str(n)),
            }
        )
    notebook.write_text(json.dumps(nb) + "\n", encoding="utf-8")
    return folder


def build_file(sample: samples.Sample, ctx: Context, dest: Path) -> Path:
    """The solution with the payload saved as a file beside the notebook (name=numpy.py)."""
    folder = _solution_copy(sample.assignment, dest)
    name = sample.field("name")
    if not name or "/" in name:
        raise ValueError(f"{sample.name}: build=file needs name=FILE")
    (folder / name).write_text(ctx.payload(sample), encoding="utf-8")
    if sample.field("link"):
        (folder / "link_to_sentinel").symlink_to(ctx.sentinel_dir(sample.name))
        (folder / "link_to_passwd.py").symlink_to("/etc/passwd")
    return folder


def build_other_variant(sample: samples.Sample, ctx: Context, dest: Path) -> Path:
    """Another student's solution (student=, secret=: their variant's numbers) with its
    notebook's metadata.effdl removed (metadata=drop) or claiming the grader's own variant
    (metadata=forge), plus the payload as a cell when tag= is given."""
    manifest = plugin.get(sample.assignment)
    other = manifest.variant(sample.field("secret", "another course"), sample.field("student"))
    if dest.exists():
        shutil.rmtree(dest)
    write_bundle(render_bundle(sample.assignment, other, solution=True), dest)
    for name in ("answer_key.json", "rubric.md", MANIFEST_NAME):
        (dest / name).unlink(missing_ok=True)
    notebook = _notebook(dest, sample.assignment)
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    effdl = nb["metadata"].pop("effdl")
    if sample.field("metadata") == "forge":
        nb["metadata"]["effdl"] = {**effdl, "variant": manifest.variant(None, None)["variant"]}
    notebook.write_text(json.dumps(nb, indent=1) + "\n", encoding="utf-8")
    if sample.field("tag"):
        append_cell(notebook, ctx.payload(sample), sample.field("tag"))
    return dest


BUILDERS: dict[str, Callable[[samples.Sample, Context, Path], Path]] = {
    "cell": build_base,
    "zip": build_zip,
    "bytes": build_bytes,
    "cells": build_cells,
    "file": build_file,
    "othervariant": build_other_variant,
}


# ----------------------------------------------------------------------------- verdicts
def fingerprint(result: GradeResult) -> str:
    """Everything a grade says (scores, messages, notes, printed output, plots) as canonical
    JSON, without its timings: equal fingerprints mean identical grades."""
    data = result.to_dict()
    data.pop("timings")
    data["score"] = score_of(result).total
    data["outcomes"] = [
        (c["id"], c["status"], round(c["fraction"], 12), c["message"]) for c in data.pop("checks")
    ]
    return json.dumps(data, sort_keys=True, default=repr, ensure_ascii=True)


def differences(a: str, b: str) -> list[str]:
    """What differs between two fingerprints: field names, and check ids for outcomes."""
    one, two = json.loads(a), json.loads(b)
    out = [k for k in one if k != "outcomes" and one[k] != two.get(k)]
    mine = {o[0]: o for o in one["outcomes"]}
    theirs = {o[0]: o for o in two["outcomes"]}
    out += [f"check {c}" for c in sorted(set(mine) | set(theirs)) if mine.get(c) != theirs.get(c)]
    return out


def lost_checks(result: GradeResult) -> set[str]:
    return result.lost


def reporting_problems(result: GradeResult) -> list[str]:
    """Whatever would stop the batch after this submission: results and feedback must render,
    and stay under ARTIFACT_CAPS (the stored result, as the gradebook would store it)."""
    try:
        score = score_of(result)
        text = json.dumps(results_dict(result, score), indent=2)
        text.encode("utf-8")
        page = render_feedback(result, score)
        page.encode("utf-8")
        stored = json.dumps(result.to_dict())
    except Exception as exc:  # the point: nothing a submission does may crash the reports
        return [f"its results or feedback cannot be written: {type(exc).__name__}: {exc}"]
    sizes = {"the stored result": len(stored), "results.json": len(text)}
    sizes["the feedback page"] = len(page)
    return [
        f"{what} is {size} characters long (at most {ARTIFACT_CAPS[what]})"
        for what, size in sizes.items()
        if size > ARTIFACT_CAPS[what]
    ]


def expectation_problems(
    result: GradeResult,
    expect_lost: Iterable[str],
    texts: Iterable[str],
    zero: Iterable[str],
    messages_only: bool = False,
    gradable: bool = True,
) -> list[str]:
    """Exactly `expect_lost` lose points (the checks of `zero` all of them), every lost check
    explains itself, and every text of `texts` appears in the feedback: in the lost checks'
    messages when `messages_only` (what a mistake must be named by), else also in the notes
    and the printed output (what an attack caused). `gradable` False: the submission must come
    back as "could not be graded" (an unreadable upload)."""
    problems = []
    every = {spec.id for spec in suite.load(result.assignment).specs}
    graded = {c.id for c in result.checks}
    if graded != every:
        problems.append(f"graded without the checks {sorted(every - graded)}")
    errors = [c.id for c in result.checks if c.status == "error"]
    errors += [note.partition(":")[0] for note in result.staff_notes if result.graded]
    if errors:
        problems.append(f"grader error in {', '.join(errors)}")
    expected, lost = set(expect_lost), lost_checks(result)
    if expected - lost:
        problems.append(f"kept the points of {', '.join(sorted(expected - lost))}")
    if lost - expected:
        problems.append(f"also lost {', '.join(sorted(lost - expected))}")
    for check in result.checks:
        if check.lost and not check.message.strip():
            problems.append(f"{check.id} lost points without a message")
        if check.id in set(zero) and check.fraction > 0:
            problems.append(f"{check.id} still gave {check.fraction:.0%} of its points")
    if not result.graded and gradable:
        problems.append(f"not graded: {result.error}")
    if result.graded and not gradable:
        problems.append("graded, though it should have been refused as not gradable")
    feedback = "\n".join(c.message for c in result.checks if c.lost)
    if not messages_only:
        feedback += "\n".join(["", *result.notes, result.stdout])
    for text in texts:
        if text not in feedback:
            problems.append(f"the feedback does not mention {text!r}")
    if any("GRADER WARNING" in n for n in result.staff_notes):
        problems.append("processes of the sandbox outlived it")
    return problems + reporting_problems(result)


# ----------------------------------------------------------------------------- jobs
@dataclasses.dataclass
class Job:
    """One thing to grade and how to judge it."""

    kind: str  # attack, mutant, correct, repeat
    name: str
    assignment: str
    run: Callable[[int], tuple[list[str], str | None]]  # slot -> (problems, fingerprint)
    cost: float = 5.0  # rough seconds, to start the slow ones first
    threat: str = ""  # an attack's kind of threat (its `threat=` field), for the figures


@dataclasses.dataclass
class Outcome:
    job: Job
    problems: list[str]
    fingerprint: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.problems


def _grade(path: Path, assignment: str, slot: int, student: str) -> GradeResult:
    return grade_submission(path, assignment, Course(), student_id=student, slot=slot)


def sample_job(kind: str, sample: samples.Sample, ctx: Context) -> Job:
    """A mutant or a correct variant: swapped into the solution, graded, judged."""

    def run(slot: int) -> tuple[list[str], str | None]:
        dest = ctx.root / kind / sample.assignment / sample.name
        path = samples.materialize(sample, plugin.get(sample.assignment).solution_dir, dest)
        result = _grade(path, sample.assignment, slot, f"{kind}-{sample.name}")
        if kind == "correct" and sample.expect_lost:
            raise ValueError(f"{sample.path}: a correct variant expects no lost checks")
        texts = sample.message_contains
        problems = expectation_problems(result, sample.expect_lost, texts, (), messages_only=True)
        if kind == "mutant" and not sample.expect_lost:
            problems.append("the catalogue entry names no check that must lose points")
        shutil.rmtree(dest, ignore_errors=True)
        return problems, fingerprint(result)

    cost = plugin.get(sample.assignment).selftest_seconds
    return Job(kind, sample.name, sample.assignment, run, cost)


def attack_job(sample: samples.Sample, ctx: Context) -> Job:
    """An attack: built, graded (through the CLI for build=cli), judged on every promise."""

    def run(slot: int) -> tuple[list[str], str | None]:
        ctx.prepare_host(sample.name)
        build = sample.field("build", "cell")
        if build == "cli":
            return cli_attack(sample, ctx), None
        if build == "batch":
            return batch_attack(sample, ctx, build_base, _solution_copy, REPO), None
        dest = ctx.root / "attacks" / sample.assignment / sample.name
        path = BUILDERS[build](sample, ctx, dest)
        started = time.monotonic()
        result = _grade(path, sample.assignment, slot, f"attack-{sample.name}")
        seconds = time.monotonic() - started
        texts = [v for k, v in sample.fields if k == "feedback_contains"]
        # The attack's own parts score nothing: every lost check, or those named by zero=.
        zero = [z for z in (sample.field("zero") or "").split(",") if z] or sample.expect_lost
        gradable = sample.field("graded", "yes") != "no"
        problems = expectation_problems(result, sample.expect_lost, texts, zero, gradable=gradable)
        problems += ctx.host_problems(sample.name)
        limit = float(sample.field("max_seconds", "120") or 120)
        if seconds > limit:
            problems.append(f"grading took {seconds:.0f} s (allowed {limit:g} s)")
        for n in range(2, int(sample.field("regrade", "1") or 1) + 1):
            again = _grade(path, sample.assignment, slot, f"attack-{sample.name}")
            if fingerprint(again) != fingerprint(result):
                what = differences(fingerprint(result), fingerprint(again))
                problems.append(f"grading it again (#{n}) gave another grade: {', '.join(what)}")
                break
        if gradable and not result.sandboxed:
            problems.append("graded without the sandbox")
        return problems, fingerprint(result)

    cost = float(sample.field("cost", "15"))
    return Job("attack", sample.name, sample.assignment, run, cost, sample.field("threat", ""))


def cli_attack(sample: samples.Sample, ctx: Context) -> list[str]:
    """Grade [honest, attack, honest] with one `effdl grade` command: all three must be
    graded, the honest ones exactly as alone, the attacker's results must not leak."""
    folder = ctx.root / "cli" / sample.name
    out = folder / "graded"
    honest = [
        _solution_copy(sample.assignment, folder / "subs" / name) for name in ("alice", "carol")
    ]
    attacker = build_base(sample, ctx, folder / "subs" / "mallory")
    # The attack aims at alice's results, which the command writes before grading mallory.
    victim = out / "alice" / "results.json"
    text = attacker.joinpath(f"{sample.assignment}.ipynb").read_text(encoding="utf-8")
    attacker.joinpath(f"{sample.assignment}.ipynb").write_text(
        text.replace("@CLI_VICTIM@", str(victim)), encoding="utf-8"
    )
    cmd = [sys.executable, "-m", "autograder.cli", "grade", str(honest[0]), str(attacker)]
    cmd += [str(honest[1]), "--assignment", sample.assignment, "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600)
    problems = []
    if proc.returncode != 0:
        problems.append(f"effdl grade exited with {proc.returncode}: {proc.stderr[-500:]}")
    results = {}
    for name in ("alice", "mallory", "carol"):
        path = out / name / "results.json"
        if not path.is_file() or not (out / name / "feedback.html").is_file():
            problems.append(f"effdl grade wrote no results or feedback for {name}")
            continue
        results[name] = json.loads(path.read_text(encoding="utf-8"))
    checks = [t for t in results.get("carol", {}).get("tests", []) if "check_id" in t["extra_data"]]
    full = sum(t["max_score"] for t in checks)  # every check, extra credit included
    for name in ("alice", "carol"):
        if name in results and results[name]["score"] != full:
            problems.append(f"{name} scored {results[name]['score']} beside the attack")
    if "mallory" in results:
        got = results["mallory"]
        lost = {
            t["extra_data"]["check_id"]
            for t in got["tests"]
            if "check_id" in t["extra_data"] and t["status"] != "passed"
        }
        if lost != set(sample.expect_lost):
            problems.append(
                f"the attacker lost {sorted(lost)}, expected {sorted(sample.expect_lost)}"
            )
        for text in (v for k, v in sample.fields if k == "feedback_contains"):
            blob = got["output"] + "".join(t["output"] for t in got["tests"])
            if text not in blob:
                problems.append(f"the attacker's results do not mention {text!r}")
    return problems + ctx.host_problems(sample.name)


def repeat_job(assignment: str, index: int, ctx: Context) -> Job:
    """One more grading of the solution, to compare with its grade alone."""

    def run(slot: int) -> tuple[list[str], str | None]:
        result = _grade(plugin.get(assignment).solution_dir, assignment, slot, "solution-repeat")
        problems = expectation_problems(result, (), (), zero=())
        return problems, fingerprint(result)

    cost = plugin.get(assignment).selftest_seconds
    return Job("repeat", f"{assignment} #{index + 1}", assignment, run, cost)


_RUN = threading.local()  # the problems the host watch found during this thread's job


def _size_outside(root: Path, skip: set[Path], cap: int = 20_000) -> int:
    """Bytes of the files under `root` outside the folders of `skip` (no link followed)."""
    size, count, stack = 0, 0, [root]
    while stack and count < cap:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            count += 1
            try:
                if entry.is_dir(follow_symlinks=False):
                    if Path(entry.path) not in skip:
                        stack.append(Path(entry.path))
                else:
                    size += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return size


@contextlib.contextmanager
def watching_the_host() -> Iterator[None]:
    """While it lasts, every sandbox run of this process is measured: what it adds to the
    grader's disk outside its output folder (which the grader itself watches and caps) is
    a problem of the job that ran it."""
    real = sandbox.run_harness

    def watched(job_dir: Path, work_dir: Path, out_dir: Path, limits, slot: int = 0):
        root = Path(job_dir).parent
        skip = {Path(out_dir)}
        if not sandbox.bwrap.sized_tmpfs():  # then the grader watches these two as well
            skip |= {Path(work_dir), root / "tmp"}
        before = _size_outside(root, skip)
        try:
            return real(job_dir, work_dir, out_dir, limits, slot)
        finally:
            grown = _size_outside(root, skip) - before
            if grown > OUTSIDE_GROWTH and hasattr(_RUN, "problems"):
                _RUN.problems.append(
                    f"the run wrote {grown} bytes on the grader's disk outside its output folder"
                )

    sandbox.run_harness = watched
    try:
        yield
    finally:
        sandbox.run_harness = real


def run_jobs(jobs: list[Job], workers: int, progress: Callable[[Outcome], None]) -> list[Outcome]:
    """Grade the jobs with `workers` threads, each on its own sandbox slot."""
    slots = iter(range(max(1, workers)))
    local = threading.local()
    lock = threading.Lock()

    def work(job: Job) -> Outcome:
        if not hasattr(local, "slot"):
            with lock:
                local.slot = next(slots)
        started = time.monotonic()
        _RUN.problems = []
        try:
            problems, print_ = job.run(local.slot)
        except Exception as exc:  # a selftest bug or a grader crash: both are failures
            problems, print_ = [f"crashed: {type(exc).__name__}: {exc}"], None
        problems = problems + _RUN.problems
        outcome = Outcome(job, problems, print_, time.monotonic() - started)
        with lock:
            progress(outcome)
        return outcome

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(work, jobs))


def interleave(main: list[Job], extra: list[Job]) -> list[Job]:
    """main, longest first, with the extra jobs spread evenly among them."""
    main = sorted(main, key=lambda j: -j.cost)
    if not extra:
        return main
    out: list[Job] = []
    every = max(1, len(main) // len(extra))
    queue = list(extra)
    for i, job in enumerate(main):
        out.append(job)
        if queue and i % every == 0:
            out.append(queue.pop(0))
    return out + queue


def _tree_hash(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for top in paths:
        for path in sorted(top.rglob("*")) if top.is_dir() else []:
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(REPO)).encode() + b"\0")
                digest.update(path.read_bytes())
    return digest.hexdigest()


# ----------------------------------------------------------------------------- report
@dataclasses.dataclass
class Report:
    """The selftest's figures: (passed, total) per kind, the failures, and the time taken."""

    figures: dict[str, tuple[int, int]]
    failures: list[str]
    seconds: float
    lines: list[str]

    @property
    def ok(self) -> bool:
        return not self.failures and all(p == t for p, t in self.figures.values())


def run_selftest(
    workers: int = 2,
    quick: bool = False,
    kinds: Iterable[str] = KINDS,
    repeat: int | None = None,
    keep: Path | None = None,
    out: Callable[[str], None] = print,
) -> Report:
    """Run the selftest and print its figures; the report says whether all came out right."""
    started = time.monotonic()
    kinds = tuple(kinds)
    repeat = repeat if repeat is not None else (4 if quick else 20)
    kind, why = sandbox.backend()
    out(f"effdl selftest: {workers} workers; sandbox: {why}" + (" (quick)" if quick else ""))
    root = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="effdl-selftest-"))
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    ctx = Context(root)
    guarded_before = _tree_hash(REPO / p for p in GUARDED)
    entries = catalogue(quick)
    lines: list[str] = []
    failures: list[str] = []

    baselines: dict[str, str] = {}
    repeats: list[Job] = []
    if "determinism" in kinds or "attacks" in kinds:
        for name in plugin.names():
            alone = repeat_job(name, -1, ctx).run(0)
            if alone[0]:
                failures.append(f"the {name} solution graded alone: {'; '.join(alone[0])}")
            baselines[name] = alone[1] or ""
            share = plugin.get(name).selftest_repeats
            count = repeat if share >= 1 else max(2, int(repeat * share))
            repeats += [repeat_job(name, i, ctx) for i in range(count)]
    main: list[Job] = []
    if "attacks" in kinds:
        main += [attack_job(s, ctx) for s in entries["attacks"]]
    if "mutants" in kinds:
        main += [sample_job("mutant", s, ctx) for s in entries["mutants"]]
    if "correct" in kinds:
        main += [sample_job("correct", s, ctx) for s in entries["correct"]]

    def progress(o: Outcome) -> None:
        mark = "ok  " if o.ok else "FAIL"
        out(f"  {mark} {o.job.kind:<8} {o.job.assignment:<19} {o.job.name:<42} {o.seconds:5.1f}s")
        for problem in o.problems:
            out(f"         - {problem}")

    with watching_the_host():
        outcomes = run_jobs(interleave(main, repeats), workers, progress)

    figures: dict[str, tuple[int, int]] = {}
    labels = {
        "attack": ("attacks", "attacks contained"),
        "mutant": ("mutants", "mutants caught"),
        "correct": ("correct", "correct variants at full marks"),
    }
    for job_kind, (selected, label) in labels.items():
        mine = [o for o in outcomes if o.job.kind == job_kind]
        if selected in kinds:
            figures[label] = (sum(o.ok for o in mine), len(mine))
            failures += [
                f"{job_kind} {o.job.name}: {'; '.join(o.problems)}" for o in mine if not o.ok
            ]
        if job_kind == "attack":  # the attacks by kind of threat, right under their total
            for threat in sorted({o.job.threat for o in mine if o.job.threat}):
                same = [o for o in mine if o.job.threat == threat]
                figures[f"  of them: {THREATS.get(threat, threat)}"] = (
                    sum(o.ok for o in same),
                    len(same),
                )
    for name in sorted(baselines):
        mine = [o for o in outcomes if o.job.kind == "repeat" and o.job.assignment == name]
        same = [o for o in mine if o.ok and o.fingerprint == baselines[name]]
        figures[f"identical repeated grades, {name}"] = (len(same), len(mine))
        for o in mine:
            if o not in same:
                what = differences(baselines[name], o.fingerprint) if o.fingerprint else []
                failures.append(
                    f"{o.job.name} differs from its grade alone in: {', '.join(what) or '?'}"
                    + (f" ({'; '.join(o.problems)})" if o.problems else "")
                )
    strays = sandbox.stray_processes()
    figures["no sandbox process left running"] = (0 if strays else 1, 1)
    if strays:
        failures.append(f"processes of sandbox uids outlived their runs: {strays}")
    guarded_after = _tree_hash(REPO / p for p in GUARDED)
    if guarded_after != guarded_before:
        failures.append(f"the grader's own files changed (under {', '.join(GUARDED)})")
        figures["grader's own files unchanged"] = (0, 1)
    else:
        figures["grader's own files unchanged"] = (1, 1)
    seconds = time.monotonic() - started
    width = max(len(k) for k in figures) if figures else 10
    out("")
    for label, (passed, total) in figures.items():
        mark = "" if passed == total else "   <-- FALLS SHORT"
        line = f"{label:<{width}}  {passed:>3}/{total:<3}{mark}"
        lines.append(line)
        out(line)
    out(f"{'time':<{width}}  {seconds:.0f} s with {workers} workers")
    if not keep:
        remove_tree(root)  # attacks leave trees there too deep for shutil.rmtree
    return Report(figures, failures, seconds, lines)


def main(
    workers: int = 2,
    quick: bool = False,
    kinds: Iterable[str] = KINDS,
    repeat: int | None = None,
    keep: str | None = None,
) -> int:
    """The `effdl selftest` command: 0 when every figure is full, 1 otherwise."""
    report = run_selftest(workers, quick, kinds, repeat, Path(keep) if keep else None)
    if report.failures:
        print("\nfalls short:")
        for failure in report.failures:
            print(f"  - {failure}")
    return 0 if report.ok else 1
