"""One student's outputs: results.json and feedback.html, from one result and one score.

Every command that writes a student's files (effdl grade, the class batch, the demo, a
hand-grading import) calls `publish`, so both files always show the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autograder.course.late import Lateness
from autograder.grading.questions import Question, QuestionsError, questions
from autograder.grading.result import GradeResult, bounded
from autograder.grading.score import ManualScore, Score, score_of
from autograder.publishing.feedback import write_feedback
from autograder.publishing.results_json import write_results


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
