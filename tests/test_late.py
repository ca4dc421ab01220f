"""Submission times (Gradescope metadata, a CSV, the file's time) and the late policies."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import pytest

from autograder.course import late
from autograder.course.settings import AssignmentSettings, CourseError, load_course

UTC = dt.timezone.utc
DUE = dt.datetime(2026, 11, 6, 23, 59, tzinfo=UTC)


def at(days: float) -> dt.datetime:
    return DUE + dt.timedelta(days=days)


def test_parse_time_accepts_gradescope_and_iso_forms() -> None:
    assert late.parse_time("2026-11-06T22:10:00.123456-08:00", "x").utcoffset() == dt.timedelta(
        hours=-8
    )
    assert late.parse_time("2026-11-06T23:59:00Z", "x") == DUE
    assert late.parse_time("2026-11-06 23:59", "x") == DUE  # no zone: UTC
    with pytest.raises(late.LateError, match="not an ISO 8601 time"):
        late.parse_time("yesterday", "times.csv:3")


def test_no_due_date_is_never_late() -> None:
    standing = late.lateness(AssignmentSettings(), "ann", at(30))
    assert not standing.late and standing.multiplier == 1.0


def test_percent_per_day_counts_started_days_and_the_cutoff() -> None:
    settings = AssignmentSettings(
        due=DUE, late_policy="percent_per_day", late_percent_per_day=10, cutoff=at(3)
    )
    assert late.lateness(settings, "ann", at(-0.1)).multiplier == 1.0
    assert late.lateness(settings, "ann", at(0)).late is False
    one = late.lateness(settings, "ann", at(0.01))
    assert one.late and one.days_late == 1 and one.multiplier == pytest.approx(0.9)
    assert late.lateness(settings, "ann", at(2.5)).multiplier == pytest.approx(0.7)
    after = late.lateness(settings, "ann", at(3.01))
    assert after.multiplier == 0.0 and "cutoff" in after.reason
    steep = AssignmentSettings(due=DUE, late_policy="percent_per_day", late_percent_per_day=40)
    assert late.lateness(steep, "ann", at(5)).multiplier == 0.0  # never below zero


def test_zero_after_cutoff_and_none() -> None:
    settings = AssignmentSettings(due=DUE, late_policy="zero_after_cutoff", cutoff=at(2))
    before = late.lateness(settings, "ann", at(1))
    assert before.late and before.multiplier == 1.0
    assert late.lateness(settings, "ann", at(2.5)).multiplier == 0.0
    no_cutoff = AssignmentSettings(due=DUE, late_policy="zero_after_cutoff")
    assert late.lateness(no_cutoff, "ann", at(0.001)).multiplier == 0.0
    none = AssignmentSettings(due=DUE, late_policy="none")
    flagged = late.lateness(none, "ann", at(4))
    assert flagged.late and flagged.multiplier == 1.0 and flagged.days_late == 4


def test_an_extension_moves_the_due_date_and_the_cutoff() -> None:
    settings = AssignmentSettings(
        due=DUE,
        late_policy="percent_per_day",
        late_percent_per_day=10,
        cutoff=at(3),
        extensions={"ann": at(2)},
    )
    assert late.lateness(settings, "ann", at(1.5)).late is False
    moved = late.lateness(settings, "ann", at(4.5))  # 2.5 days past her date, before her cutoff
    assert moved.multiplier == pytest.approx(0.7) and "extended" in moved.reason
    assert late.lateness(settings, "ann", at(5.5)).multiplier == 0.0
    assert late.lateness(settings, "bob", at(1.5)).multiplier == pytest.approx(0.8)


def test_submission_time_prefers_gradescope_then_csv_then_arrival(tmp_path: Path) -> None:
    folder = tmp_path / "ann"
    folder.mkdir()
    (folder / "nb.ipynb").write_text("{}")
    arrived = dt.datetime.now(dt.timezone.utc)
    # Times a student can set (an unzip that restores the archive's dates, utime) count for
    # nothing: the folder arrived now, whatever its files and its own mtime say.
    old = DUE.timestamp() - 3600
    os.utime(folder / "nb.ipynb", (old, old))
    os.utime(folder, (old, old))
    found = late.submission_time(folder, "ann")
    assert found.source == "arrival" and abs((found.at - arrived).total_seconds()) < 60
    future = time.time() + 86400 * 30
    os.utime(folder / "nb.ipynb", (future, future))  # and never the times of files inside
    assert abs((late.submission_time(folder, "ann").at - arrived).total_seconds()) < 60
    assert late.describe_source("arrival").startswith("the time the entry arrived")
    csv_times = {"ann": at(1)}
    assert late.submission_time(folder, "ann", csv_times).source == "csv"
    # a metadata file a student put in their own submission is not believed
    (folder / late.METADATA_NAME).write_text(json.dumps({"created_at": "2020-01-01T00:00:00Z"}))
    assert late.submission_time(folder, "ann", csv_times).source == "csv"
    (tmp_path / late.METADATA_NAME).write_text(
        json.dumps(
            {
                "ann": {"created_at": "2026-11-07T01:00:00Z"},
                "bob.zip": {":created_at": "2026-11-08T00:00:00Z", ":submitters": []},
                "cid": {"no time": True},
            }
        )
    )
    class_times = late.class_metadata(tmp_path)
    assert sorted(class_times) == ["ann", "bob.zip"]
    found = late.submission_time(folder, "ann", csv_times, class_times)
    assert found.source == "gradescope" and found.at == DUE + dt.timedelta(minutes=61)
    (tmp_path / "bob.zip").write_bytes(b"")
    assert late.submission_time(tmp_path / "bob.zip", "bob", None, class_times).at == at(1) + (
        dt.timedelta(minutes=1)
    )


def test_times_csv_and_metadata_errors_name_the_place(tmp_path: Path) -> None:
    path = tmp_path / "times.csv"
    path.write_text("student_id,submitted_at\nann,2026-11-07T00:00:00Z\nbob,soon\n")
    with pytest.raises(late.LateError, match="times.csv:3"):
        late.read_times_csv(path)
    path.write_text("student,when\n")
    with pytest.raises(late.LateError, match="needs 'student_id' and 'submitted_at'"):
        late.read_times_csv(path)
    path.write_text("student_id,submitted_at\nann,2026-11-07T00:00Z\nann,2026-11-08T00:00Z\n")
    with pytest.raises(late.LateError, match="a second time"):
        late.read_times_csv(path)
    (tmp_path / late.METADATA_NAME).write_text("[1, 2]")
    with pytest.raises(late.LateError, match="expected an object"):
        late.class_metadata(tmp_path)


def test_course_refuses_a_cutoff_before_the_due_date(tmp_path: Path) -> None:
    path = tmp_path / "course.toml"
    path.write_text(
        "[assignments.distributed-sparse]\n"
        "due = 2026-11-06T23:59:00Z\ncutoff = 2026-11-05T23:59:00Z\n"
    )
    with pytest.raises(CourseError, match="before the due date"):
        load_course(path)
    path.write_text("[assignments.distributed-sparse]\ncutoff = 2026-11-05T23:59:00Z\n")
    with pytest.raises(CourseError, match="needs a due date"):
        load_course(path)


def test_course_refuses_typos_that_would_drop_a_setting(tmp_path: Path) -> None:
    """A misspelt assignment table or [course] key, or a late policy without a due date,
    would otherwise be ignored: the course would grade as if the setting were not there."""
    path = tmp_path / "course.toml"
    path.write_text("[assignments.distributed-sprase]\ndue = 2026-11-06T23:59:00Z\n")
    with pytest.raises(CourseError, match=r"distributed-sprase\].*'distributed-sparse'\?"):
        load_course(path)
    path.write_text('[course]\nname = "x"\nsecrets = "abc-def-ghi"\n')
    with pytest.raises(CourseError, match=r"unknown keys \['secrets'\].*'secret'\?"):
        load_course(path)
    path.write_text('[assignments.distributed-sparse]\nlate_policy = "percent_per_day"\n')
    with pytest.raises(CourseError, match="needs a due date"):
        load_course(path)
    path.write_text(
        '[course]\nname = "x"\nsecret = "a-long-secret"\n'
        '[assignments.distributed-sparse]\nlate_policy = "none"\n'
        '[assignments.prune-quantize]\ndue = 2026-11-06T23:59:00Z\nlate_policy = "zero_after_cutoff"\n'
    )
    course = load_course(path)  # every key and name right: accepted
    assert course.settings("prune-quantize").late_policy == "zero_after_cutoff"


def test_points_of_a_check_that_does_not_exist_stop_grading_before_it_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from autograder.cli import main
    from autograder.grading.grade import check_points

    path = tmp_path / "course.toml"
    path.write_text('[assignments.distributed-sparse.points]\n"a2.closed_frm" = 5\n')
    with pytest.raises(CourseError, match=r"'a2.closed_frm' is no check.*'a2.closed_form'\?"):
        check_points(load_course(path), "distributed-sparse")
    out, class_dir = tmp_path / "graded", tmp_path / "class"
    (class_dir / "ann").mkdir(parents=True)
    code = main(
        [
            "grade",
            str(class_dir / "ann"),
            "--assignment",
            "distributed-sparse",
            "--course",
            str(path),
        ]
        + ["--out", str(out)]
    )
    assert code == 2 and "a2.closed_frm" in capsys.readouterr().err
    assert not out.exists()  # refused before any grading
    code = main(
        ["grade", "--class", str(class_dir), "--assignment", "distributed-sparse"]
        + ["--course", str(path), "--gradebook", str(tmp_path / "gb.sqlite"), "--out", str(out)]
    )
    assert code == 2 and "a2.closed_frm" in capsys.readouterr().err
    assert not (tmp_path / "gb.sqlite").exists() and not out.exists()
    path.write_text('[assignments.distributed-sparse.points]\n"a2.closed_form" = 5\n')
    check_points(load_course(path), "distributed-sparse")  # a real id: accepted


# ---------------------------------------------------------------------- a graded class
COURSE = """[course]
name = "late tests"

[assignments.distributed-sparse]
due = 2024-01-10T23:59:00Z
late_policy = "percent_per_day"
late_percent_per_day = 10
cutoff = 2024-01-13T23:59:00Z
"""
EXTENSION = "[assignments.distributed-sparse.extensions]\nann = 2024-01-12T23:59:00Z\n"


def _late_class(tmp_path: Path, times: Path | None = None) -> tuple[Path, Path, Path, Path]:
    """ann (a solution) and ben (a blank notebook) graded with a due date long past, so that
    their arrival times are after the cutoff, or with `times`: (class, course.toml, gradebook,
    out)."""
    from classkit import blank_notebook, solution_folder

    from autograder.commands import batch

    class_dir = tmp_path / "class"
    class_dir.mkdir()
    solution_folder(class_dir / "ann")
    blank_notebook(class_dir / "ben.ipynb")
    course = tmp_path / "course.toml"
    course.write_text(COURSE)
    book, out = tmp_path / "gb.sqlite", tmp_path / "out"
    first = batch.grade_class(
        class_dir, "distributed-sparse", book, out, course_path=str(course), times_csv=times,
        progress=False,
    )  # fmt: skip
    assert first.graded == 2
    return class_dir, course, book, out


def _times(tmp_path: Path, ann: str) -> Path:
    path = tmp_path / "times.csv"
    path.write_text(f"student_id,submitted_at\nann,{ann}\nben,2024-01-09T10:00:00Z\n")
    return path


def _shown(out: Path, sid: str) -> float:
    """The total on a student's results.json, checked against their feedback page."""
    total = json.loads((out / sid / "results.json").read_text())["score"]
    assert f'<p class="score">{total:g} / ' in (out / sid / "feedback.html").read_text()
    return total


def _exported(book: Path, course: Path) -> dict[str, dict[str, str]]:
    import csv
    import io

    from autograder.commands import exports

    text = exports.export_csv(book, "distributed-sparse", "plain", str(course))
    return {row["student_id"]: row for row in csv.DictReader(io.StringIO(text))}


def _raw(book: Path, sid: str) -> float:
    from autograder.gradebook import Gradebook

    with Gradebook.open(book, create=False) as gb:
        return gb.current("distributed-sparse")[sid].score


def test_times_given_after_grading_are_applied_without_a_regrade(tmp_path: Path) -> None:
    from autograder.commands import batch
    from autograder.gradebook import Gradebook

    class_dir, course, book, out = _late_class(tmp_path)
    assert _shown(out, "ann") == 0  # arrived now: after the cutoff
    times = _times(tmp_path, "2024-01-11T10:00:00Z")  # ann 1 day late, ben on time
    again = batch.grade_class(
        class_dir, "distributed-sparse", book, out, course_path=str(course),
        times_csv=times, progress=False,
    )  # fmt: skip
    raw = _raw(book, "ann")
    assert raw > 0 and _shown(out, "ann") == pytest.approx(round(raw * 0.9, 2))
    assert (again.graded, again.skipped) == (0, 2) and sorted(again.retimed) == ["ann", "ben"]
    assert "2 submission times updated" in batch.format_summary(again, book, out)
    with Gradebook.open(book, create=False) as gb:
        row = gb.current("distributed-sparse")["ann"]
    assert row.submitted_source == "csv" and row.late
    assert row.submitted_time == dt.datetime(2024, 1, 11, 10, tzinfo=UTC)
    exported = _exported(book, course)
    assert float(exported["ann"]["total"]) == _shown(out, "ann")
    assert exported["ann"]["time_source"] == "csv" and exported["ann"]["days_late"] == "1"
    same = batch.grade_class(
        class_dir, "distributed-sparse", book, out, course_path=str(course),
        times_csv=times, progress=False,
    )  # fmt: skip
    assert same.retimed == [] and same.graded == 0
    # without --times the stored times stand: an arrival time never replaces them
    bare = batch.grade_class(
        class_dir, "distributed-sparse", book, out, course_path=str(course), progress=False
    )
    assert bare.retimed == [] and _shown(out, "ann") == pytest.approx(round(raw * 0.9, 2))


def test_an_extension_after_grading_reaches_the_feedback_pages(tmp_path: Path, capsys) -> None:
    from autograder.commands import batch

    times = _times(tmp_path, "2024-01-12T10:00:00Z")  # ann 2 days late
    class_dir, course, book, out = _late_class(tmp_path, times)
    raw = _raw(book, "ann")
    assert _shown(out, "ann") == pytest.approx(round(raw * 0.8, 2))
    # the class command with the extension in course.toml rewrites ann's page, no regrade
    extended = tmp_path / "new.toml"
    extended.write_text(COURSE + EXTENSION)
    rerun = batch.grade_class(
        class_dir, "distributed-sparse", book, out, course_path=str(extended),
        times_csv=times, progress=False,
    )  # fmt: skip
    assert (rerun.graded, rerun.repaired) == (0, 1)
    assert _shown(out, "ann") == pytest.approx(raw)
    shown = json.loads((out / "ann" / "results.json").read_text())["extra_data"]["effdl"]
    assert shown["submission"]["deadline"].startswith("2024-01-12T23:59")
    # an export with other settings names the pages that do not show its grade, and the
    # class command with those settings rewrites them
    withdrawn = tmp_path / "withdrawn.toml"
    withdrawn.write_text(COURSE)
    capsys.readouterr()
    exported = _exported(book, withdrawn)
    (line,) = [t for t in capsys.readouterr().err.splitlines() if "do not show the grade" in t]
    assert line.endswith(": ann")  # ben's page shows the exported grade already
    assert float(exported["ann"]["total"]) == pytest.approx(raw * 0.8)
    again = batch.grade_class(
        class_dir, "distributed-sparse", book, out, course_path=str(withdrawn),
        times_csv=times, progress=False,
    )  # fmt: skip
    assert (again.graded, again.repaired) == (0, 1)
    exported = _exported(book, withdrawn)
    assert "do not show the grade" not in capsys.readouterr().err
    for sid in ("ann", "ben"):
        assert float(exported[sid]["total"]) == _shown(out, sid)
