"""One student's outputs: results.json and feedback.html, from one result and one score.

Every command that writes a student's files (effdl grade, the class batch, the demo, a
hand-grading import) calls `publish`, so both files always show the same numbers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autograder.course.late import Lateness
from autograder.grading.questions import Question, QuestionsError, questions
from autograder.grading.result import GradeResult, bounded
from autograder.grading.score import ManualScore, Score, score_of
from autograder.publishing.feedback import write_feedback
from autograder.publishing.results_json import results_dict, write_results


def hand_graded_questions(assignment: str) -> tuple[Question, ...]:
    """The assignment's hand-graded questions (none when its notebook cannot be read)."""
    try:
        return questions(assignment)
    except QuestionsError:
        return ()


def manual_rows(qs: Sequence[Question], manual: Sequence[ManualScore]) -> list[dict[str, Any]]:
    """A row per hand-graded question: its score and comment, or pending."""
    recorded = {m.question: m for m in manual}
    rows = []
    for q in qs:
        m = recorded.get(q.key)
        rows.append(
            {
                "problem": q.key,
                "title": q.title,
                "points": m.points if m else None,
                "max": m.max_points if m else (q.max_points or 0.0),
                "comment": m.comment if m else "",
                "pending": m is None,
                "extra": q.extra,
            }
        )
    return rows


def publish(
    result: GradeResult,
    folder: Path,
    manual: Sequence[ManualScore] = (),
    lateness: Lateness | None = None,
    hand_graded: bool = True,
) -> Score:
    """Write folder/results.json and folder/feedback.html (both say where the submission time
    in `lateness` came from; the result is cut to its caps first); returns their score.
    `hand_graded` counts the assignment's hand-graded questions in the total (pending ones
    as 0); without it (Gradescope grades those itself) only the automatic part counts."""
    bounded(result)
    qs = hand_graded_questions(result.assignment) if hand_graded else ()
    score = score_of(result, manual, qs, lateness)
    rows = manual_rows(qs, manual)
    write_results(result, score, folder / "results.json", rows, lateness)
    write_feedback(result, score, folder / "feedback.html", rows, lateness)
    return score


def pages_agree(
    result: GradeResult,
    folder: Path,
    manual: Sequence[ManualScore] = (),
    lateness: Lateness | None = None,
) -> bool:
    """Whether folder/results.json and feedback.html are what `publish` would write now (the
    total, the late outcome, the hand-graded scores, everything in results.json); a missing
    or unreadable file disagrees. feedback.html is written with results.json, from the same
    score, so results.json stands for both."""
    if not (folder / "feedback.html").is_file():
        return False
    try:
        shown = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    bounded(result)
    qs = hand_graded_questions(result.assignment)
    score = score_of(result, manual, qs, lateness)
    expected = results_dict(result, score, manual_rows(qs, manual), lateness)
    return bool(shown == json.loads(json.dumps(expected)))
