"""Hand-graded parts: questions and maxima from the bundles, pages by question with every
answer (text, printed output, plots), and importing scores back into the gradebook."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from classkit import ASSIGNMENT, graded_class, png

from autograder.commands import manual
from autograder.gradebook import Gradebook


def _q(assignment: str) -> dict[str, manual.Question]:
    return {q.key: q for q in manual.questions(assignment)}


def test_questions_and_maxima_come_from_the_notebook_and_rubric() -> None:
    ds = _q("distributed-sparse")
    assert list(ds)[:3] == ["A1", "A2.1", "A2.3"]
    assert ds["A1"].max_points == 10 and ds["A2.1"].max_points == 2
    assert ds["A3.6"].extra and not ds["A3.5"].extra and ds["A3.5"].max_points == 3
    assert ds["A2.3"].title == "A2.3 comment"
    pq = _q("prune-quantize")
    assert pq["B1"].max_points == 10  # 1 point each, ten items
    assert pq["B3(b)"].max_points == 3 and pq["B4(d)"].extra
    assert all(q.max_points is not None for q in list(ds.values()) + list(pq.values()))


def _nb(cells: list[dict]) -> dict:
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _written(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {"tags": ["written"]}, "source": text}


def test_extract_answers_text_outputs_plots_and_fallbacks() -> None:
    import base64

    good = base64.b64encode(png()).decode()
    fake = base64.b64encode(b"<svg onload=alert(1)>").decode()
    code = {
        "cell_type": "code",
        "metadata": {},
        "source": "plot()",
        "outputs": [
            {"output_type": "stream", "name": "stdout", "text": "final loss 0.1\n"},
            {"output_type": "display_data", "data": {"image/png": good}, "metadata": {}},
            {"output_type": "display_data", "data": {"image/png": fake}, "metadata": {}},
        ],
    }
    nb = _nb(
        [
            {"cell_type": "markdown", "metadata": {}, "source": "### A2.1"},
            _written("**A2.1 update rule.**\n*Your answer here.*"),
            {"cell_type": "markdown", "metadata": {}, "source": "### A2.3"},
            code,
            _written("My comment without the label"),
        ]
    )
    answers = manual.extract_answers(nb, ["A2.1", "A2.3"])
    assert not answers["A2.1"].answered and answers["A2.1"].images == []
    comment = answers["A2.3"]
    assert comment.answered and "matched by position" in comment.notes[0]
    assert comment.printed == "final loss 0.1\n"
    assert [mime for mime, _ in comment.images] == ["image/png"]  # the fake PNG is dropped
    assert manual.extract_answers({"cells": "nonsense"}, ["A1"]) == {}


def test_export_pages_show_every_answer_and_keep_a_filled_csv(tmp_path_factory) -> None:
    graded = graded_class(tmp_path_factory)
    out = tmp_path_factory.mktemp("manual")
    lines = manual.export_manual(graded.gradebook, ASSIGNMENT, out)
    assert "13 question pages for 5 students" in lines[0]
    page = (out / "a2-3.html").read_text()
    for sid in ("alice", "bob", "carol", "dave", "erin"):
        assert f'id="{sid}"' in page
    assert "Noisy &lt;b&gt;but&lt;/b&gt; falling &amp; unbiased." in page  # text, never markup
    assert "final W: [1. -3. 2.]" in page
    assert 'src="images/a2-3-erin-0.png"' in page
    assert (out / "images" / "a2-3-erin-0.png").read_bytes() == png()
    assert "not a readable zip" in page  # dave's broken zip is said, not hidden
    assert "Not answered" in (out / "a2-1.html").read_text()  # bob's blank notebook
    rows = list(csv.DictReader((out / manual.CSV_NAME).open()))
    assert len(rows) == 5 * 13 and rows[0] == {
        "student_id": "alice",
        "question": "A1",
        "max": "10",
        "points": "",
        "comment": "",
    }
    (out / manual.CSV_NAME).write_text("student_id,question,max,points,comment\nalice,A1,10,7,\n")
    again = manual.export_manual(graded.gradebook, ASSIGNMENT, out)
    assert "kept the existing" in again[-1]
    assert "alice,A1,10,7" in (out / manual.CSV_NAME).read_text()


def test_import_checks_everything_first_then_stores_and_renders(tmp_path_factory) -> None:
    graded = graded_class(tmp_path_factory)
    work = tmp_path_factory.mktemp("manual-import")
    book_path = work / "gb.sqlite"
    shutil.copyfile(graded.gradebook, book_path)  # leave the shared gradebook as it was
    bad = work / "bad.csv"
    bad.write_text(
        "student_id,question,max,points,comment\n"
        "alice,A1,10,11,too many\n"
        "zed,A1,10,5,\n"
        "alice,A9,,1,\n"
        "bob,A2.1,2,abc,\n"
        "erin,A2.1,2,1,\n"
        "erin,A2.1,2,2,\n"
    )
    with pytest.raises(manual.ManualError) as err:
        manual.import_manual(book_path, ASSIGNMENT, bad)
    text = str(err.value)
    for fragment in ("bad.csv:2", "bad.csv:3", "bad.csv:4", "bad.csv:5", "bad.csv:7", "first on"):
        assert fragment in text
    with Gradebook.open(book_path, create=False) as book:
        assert book.manual_scores(ASSIGNMENT) == {}  # nothing was stored

    good = work / "good.csv"
    good.write_text(
        "student_id,question,max,points,comment\n"
        'erin,A2.3,2,1.5,"Unbiased, yes; say why it is <noisy>."\n'
        "erin,A1,12,11,a course may raise a maximum\n"
        "alice,A1,10,,\n"
    )
    lines = manual.import_manual(book_path, ASSIGNMENT, good)
    assert "2 new" in lines[0] and "1 rows without points" in lines[0]
    feedback = (graded.out / "erin" / "feedback.html").read_text()
    assert "graded by hand" in feedback
    assert "say why it is &lt;noisy&gt;." in feedback
    with Gradebook.open(book_path, create=False) as book:
        scores = book.manual_scores(ASSIGNMENT)
        assert scores[("erin", "A1")].max_points == 12
    good.write_text("student_id,question,points,comment\nerin,A2.3,2,better\n")
    assert "1 changed" in manual.import_manual(book_path, ASSIGNMENT, good)[0]
    with Gradebook.open(book_path, create=False) as book:
        assert book.manual_scores(ASSIGNMENT)[("erin", "A2.3")].points == 2
        history = book.conn.execute(
            "SELECT count(*) FROM manual_scores WHERE student_id = 'erin' AND question = 'A2.3'"
        ).fetchone()[0]
        assert history == 2


def test_import_needs_its_columns(tmp_path: Path, tmp_path_factory) -> None:
    graded = graded_class(tmp_path_factory)
    path = tmp_path / "scores.csv"
    path.write_text("who,what\nalice,A1\n")
    with pytest.raises(manual.ManualError, match="missing column"):
        manual.import_manual(graded.gradebook, ASSIGNMENT, path)
    with pytest.raises(manual.ManualError, match="cannot read"):
        manual.import_manual(graded.gradebook, ASSIGNMENT, tmp_path / "none.csv")


def test_notebook_json_only(tmp_path: Path) -> None:
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps(_nb([_written("**A1 justifications.**\nbecause")])))
    nb, note = manual.read_notebook(path, ASSIGNMENT, "x")
    assert note == "" and manual.extract_answers(nb, ["A1"])["A1"].text.endswith("because")
    path.write_text("{not json")
    nb, note = manual.read_notebook(path, ASSIGNMENT, "x")
    assert nb == {} and note.startswith("x.ipynb: the notebook is not valid JSON")


def test_export_out_that_is_a_file_is_refused(
    tmp_path_factory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from autograder.cli import main

    graded = graded_class(tmp_path_factory)
    taken = tmp_path / "taken"
    taken.write_text("mine")
    code = main(
        ["manual", "export", "--gradebook", str(graded.gradebook), "--assignment", ASSIGNMENT]
        + ["--out", str(taken)]
    )
    assert code == 2
    assert f"--out {taken} is a file; expected a folder" in capsys.readouterr().err
    assert taken.read_text() == "mine"


def test_pages_rendered_again_without_course_keep_the_grading_course(tmp_path: Path) -> None:
    """The gradebook remembers the course file it was graded with: an import or the web page
    without --course use it (the late policy, each student's own key), and refuse, naming
    --course, once that file is gone or has changed."""
    import html
    import io

    from classkit import solution_folder

    from autograder.commands.batch import grade_class
    from autograder.commands.exports import export_csv
    from autograder.commands.serve import ServeError, make_app
    from autograder.course.settings import Course, load_course
    from autograder.gradebook import GradebookError

    class_dir = tmp_path / "class"
    class_dir.mkdir()
    solution_folder(class_dir / "zoe")
    course = tmp_path / "course.toml"
    text = (
        '[course]\nname = "t"\nsecret = "a secret for the hand-grading test"\n'
        "[assignments.distributed-sparse]\ndue = 2024-01-10T23:59:00Z\n"
        'late_policy = "percent_per_day"\nlate_percent_per_day = 10\n'
    )
    course.write_text(text)
    times = tmp_path / "times.csv"
    times.write_text("student_id,submitted_at\nzoe,2024-01-11T10:00:00Z\n")  # 1 day late
    book, out = tmp_path / "gb.sqlite", tmp_path / "out"
    grade_class(
        class_dir, ASSIGNMENT, book, out, course_path=str(course), times_csv=times,
        progress=False,
    )  # fmt: skip
    scores = tmp_path / "scores.csv"
    scores.write_text("student_id,question,points\nzoe,A1,5\n")
    manual.import_manual(book, ASSIGNMENT, scores)  # no --course
    (row,) = csv.DictReader(io.StringIO(export_csv(book, ASSIGNMENT, "plain", str(course))))
    shown = json.loads((out / "zoe" / "results.json").read_text())["score"]
    assert row["late_multiplier"] == "0.9" and float(row["total"]) == shown
    assert float(row["manual_points"]) == 5
    key = manual.own_key(ASSIGNMENT, load_course(course), "zoe")
    canonical = manual.own_key(ASSIGNMENT, Course(), "zoe").splitlines()
    own = [line for line in key.splitlines() if line not in canonical]
    assert own  # her variant's numbers differ from the canonical ones
    page = make_app(book, ASSIGNMENT).test_client().get("/q/A1/zoe").get_data(as_text=True)
    assert all(html.escape(line, quote=False) in page for line in own)
    course.write_text(
        text + "[assignments.distributed-sparse.extensions]\nzoe = 2024-01-12T23:59:00Z\n"
    )
    with pytest.raises(GradebookError, match="changed since.*--course"):
        manual.import_manual(book, ASSIGNMENT, scores)
    with pytest.raises(ServeError, match="changed since.*--course"):
        make_app(book, ASSIGNMENT)
    course.unlink()
    with pytest.raises(GradebookError, match="no longer there.*--course"):
        export_csv(book, ASSIGNMENT)
    assert json.loads((out / "zoe" / "results.json").read_text())["score"] == shown
