"""The selftest's class-folder attacks (build=batch): one submission in a class folder graded
with `effdl grade --class`, between two honest students, twice over.

A class folder holds two honest solutions (nina/ and oscar/) and the attacker's entry, made
as the header says:

    entry=folder|notebook|zip  how the attacker's submission is stored (default folder)
    entry_name=NAME            its name in the class folder (default mallory, mallory.ipynb, ...)
    old_times=1                its files, folders, zip entries and the entry itself carry dates
                               three days old, as an unpacking tool that restores an archive's
                               dates leaves them: times the student chose
    deep=N                     a tree N folders deep inside the attacker's folder
    due=1                      a course whose due date was an hour ago, 10% per day late
    conflict=1                 the class is graded once with nina as nina.ipynb; then the
                               attacker's entry (entry_name, e.g. nina.ipynb.zip) is added
    mallory=graded|not graded|absent  what the attacker's gradebook row must say (default
                               graded; absent: no row, as when its entry is left out)

The promises: both runs start and finish (exit status 0: one submission never stops a class,
nor a later batch); the honest students are graded at full marks (times the late multiplier
their arrival earns them), each with one current row; the attacker's row is as expected,
with exactly `expect_lost` lost when graded and every `feedback_contains` in its results;
with due=1 the attacker is as late as the honest students, who arrived with it, and its
results name where its time came from; with conflict=1 nina's grade is the one she had; no
temporary folder of the grader is left behind; the host's sentinel files are untouched.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from autograder.authoring import samples
from autograder.sandbox.cleanup import remove_tree

HONEST = ("nina", "oscar")
ATTACKER = "mallory"
OLD = dt.timedelta(days=3)
LEFTOVER_PREFIXES = ("effdl-batch-", "effdl-grade-", "effdl-hash-")


def _old_stamp() -> float:
    return (dt.datetime.now(dt.timezone.utc) - OLD).timestamp()


def _deep_tree(folder: Path, depth: int) -> None:
    """`depth` nested folders under `folder`, made one level at a time (no long paths)."""
    current = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=current)
            deeper = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=current)
            os.close(current)
            current = deeper
    finally:
        os.close(current)


def _age(path: Path) -> None:
    """Set the dates of `path` and (for a shallow folder) of everything in it three days
    back, children first: what an unpacking tool restoring an archive's dates does."""
    stamp = _old_stamp()
    inside = sorted(path.rglob("*"), key=lambda p: -len(p.parts)) if path.is_dir() else []
    for item in [*inside, path]:
        if not item.is_symlink():
            os.utime(item, (stamp, stamp))


def attacker_entry(sample: samples.Sample, ctx: Any, build_base: Any, class_dir: Path) -> Path:
    """The attacker's entry in the class folder, made as the header asks."""
    kind = sample.field("entry", "folder")
    work = ctx.root / "batch" / sample.name / "build"
    folder = build_base(sample, ctx, work / ATTACKER)
    old = sample.field("old_times") == "1"
    if kind == "folder":
        target = class_dir / (sample.field("entry_name") or ATTACKER)
        shutil.move(str(folder), target)
        if old:
            _age(target)
        depth = int(sample.field("deep", "0") or 0)
        if depth:
            _deep_tree(target, depth)
        return target
    if kind == "notebook":
        target = class_dir / (sample.field("entry_name") or f"{ATTACKER}.ipynb")
        shutil.copyfile(folder / f"{sample.assignment}.ipynb", target)
    elif kind == "zip":
        target = class_dir / (sample.field("entry_name") or f"{ATTACKER}.zip")
        date = (dt.datetime.now() - (OLD if old else dt.timedelta(0))).timetuple()[:6]
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=date)
                    info.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(info, path.read_bytes())
    else:
        raise ValueError(f"{sample.name}: unknown entry={kind!r}")
    if old:
        _age(target)
    return target


def _course(folder: Path, assignment: str) -> Path:
    due = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).isoformat(timespec="seconds")
    path = folder / "course.toml"
    path.write_text(
        f'[course]\nname = "selftest"\n\n[assignments."{assignment}"]\n'
        f'due = {due}\nlate_policy = "percent_per_day"\nlate_percent_per_day = 10\n',
        encoding="utf-8",
    )
    return path


def _rows(gradebook: Path) -> dict[str, dict[str, Any]]:
    """Each student's current row (and how many rows they have) from the gradebook."""
    if not gradebook.is_file():
        return {}
    with sqlite3.connect(f"file:{gradebook}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(
            "SELECT id, student_id, status, late, is_current, error FROM submissions"
        ).fetchall()
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        mine = out.setdefault(row["student_id"], {"rows": 0})
        mine["rows"] += 1
        if row["is_current"]:
            mine.update({k: row[k] for k in ("id", "status", "late", "error")})
    return out


def _results(out: Path, sid: str) -> dict[str, Any] | None:
    path = out / sid / "results.json"
    if not path.is_file() or not (out / sid / "feedback.html").is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def batch_attack(
    sample: samples.Sample, ctx: Any, build_base: Any, solution_copy: Any, repo: Path
) -> list[str]:
    """Grade the class folder twice with `effdl grade --class` and judge every promise."""
    folder = ctx.root / "batch" / sample.name
    class_dir, out, tmp = folder / "class", folder / "graded", folder / "tmp"
    for path in (class_dir, tmp):
        path.mkdir(parents=True, exist_ok=True)
    gradebook = folder / "gradebook.sqlite"
    conflict = sample.field("conflict") == "1"
    for name in HONEST:
        copy = solution_copy(sample.assignment, folder / "build" / name)
        if conflict and name == HONEST[0]:
            shutil.copyfile(copy / f"{sample.assignment}.ipynb", class_dir / f"{name}.ipynb")
        else:
            shutil.move(str(copy), class_dir / name)
    cmd = [sys.executable, "-m", "autograder.cli", "grade", "--class", str(class_dir)]
    cmd += ["--assignment", sample.assignment, "--gradebook", str(gradebook)]
    cmd += ["--out", str(out), "--workers", "1"]
    if sample.field("due") == "1":
        cmd += ["--course", str(_course(folder, sample.assignment))]
    env = {**os.environ, "TMPDIR": str(tmp)}
    problems: list[str] = []
    runs = []
    first_rows: dict[str, dict[str, Any]] = {}
    for attempt in (1, 2):
        # The attacker's entry is there from the start; with conflict=1 it comes second.
        if attempt == (2 if conflict else 1):
            first_rows = _rows(gradebook)
            attacker_entry(sample, ctx, build_base, class_dir)
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=repo, env=env, timeout=900)
        runs.append(proc)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout)[-600:]
            problems.append(f"batch run {attempt} exited with {proc.returncode}: {tail}")
        left = sorted(p.name for p in tmp.iterdir() if p.name.startswith(LEFTOVER_PREFIXES))
        if left:
            problems.append(f"batch run {attempt} left temporary folders behind: {left[:5]}")
    rows = _rows(gradebook)
    problems += _judge_honest(sample, rows, out, conflict, first_rows)
    problems += _judge_attacker(sample, rows, out)
    summaries = "\n".join(p.stdout for p in runs)
    for text in (v for k, v in sample.fields if k == "summary_contains"):
        if text not in summaries:
            problems.append(f"the batch's summary does not mention {text!r}")
    remove_tree(folder)
    return problems + ctx.host_problems(sample.name)


def _full(results: dict[str, Any]) -> float:
    """Full marks of the automatic checks, extra credit included."""
    return sum(t["max_score"] for t in results["tests"] if "check_id" in t["extra_data"])


def _judge_honest(
    sample: samples.Sample,
    rows: dict[str, dict[str, Any]],
    out: Path,
    conflict: bool,
    first_rows: dict[str, dict[str, Any]],
) -> list[str]:
    problems = []
    late = sample.field("due") == "1"
    for name in HONEST:
        row = rows.get(name)
        if row is None or row.get("status") != "graded":
            problems.append(f"honest student {name} was not graded ({row})")
            continue
        if conflict and name == HONEST[0]:
            before = first_rows.get(name, {}).get("id")
            if row.get("id") != before:
                problems.append(f"{name}'s grade was replaced after an entry named like hers")
            continue
        results = _results(out, name)
        if results is None:
            problems.append(f"no results or feedback were written for {name}")
            continue
        expected = round(_full(results) * (0.9 if late else 1.0), 4)
        if results["score"] != expected:
            problems.append(f"{name} scored {results['score']} beside the attack, not {expected}")
        if late and not row.get("late"):
            problems.append(f"{name} arrived after the due date but is not late")
    return problems


def _judge_attacker(
    sample: samples.Sample, rows: dict[str, dict[str, Any]], out: Path
) -> list[str]:
    expected = sample.field("mallory", "graded")
    row = rows.get(ATTACKER)
    if expected == "absent":
        return [f"the attacker's entry was graded as {ATTACKER}: {row}"] if row else []
    if row is None:
        return [f"the attacker has no row in the gradebook (expected {expected!r})"]
    problems = []
    status = "graded" if expected == "graded" else "failed"
    if row.get("status") != status:
        problems.append(f"the attacker's row is {row.get('status')!r}, expected {status!r}")
    if status == "failed" and not row.get("error"):
        problems.append("the attacker's row does not say why it could not be graded")
    if status == "graded" and row.get("rows") != 1:  # the second run skips it, unchanged
        problems.append(f"the attacker has {row.get('rows')} rows after two runs, not one")
    results = _results(out, ATTACKER)
    if results is None:
        return problems + ["no results or feedback were written for the attacker"]
    lost = {
        t["extra_data"]["check_id"]
        for t in results["tests"]
        if "check_id" in t["extra_data"] and t["status"] != "passed"
    }
    if status == "graded" and lost != set(sample.expect_lost):
        problems.append(f"the attacker lost {sorted(lost)}, expected {sorted(sample.expect_lost)}")
    blob = results["output"] + "".join(t["output"] for t in results["tests"])
    for text in (v for k, v in sample.fields if k == "feedback_contains"):
        if text not in blob:
            problems.append(f"the attacker's results do not mention {text!r}")
    if sample.field("due") == "1":
        if not row.get("late"):
            problems.append("the attacker arrived after the due date but is on time")
        submission = results.get("extra_data", {}).get("effdl", {}).get("submission") or {}
        if not submission.get("time_source"):
            problems.append("the attacker's results do not say where its submission time came from")
    return problems
