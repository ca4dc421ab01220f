"""The score model: one way to add up a submission, so that every output shows one total.

    points     automatic checks, extra credit excluded     of max_points
    extra      extra credit earned (checks and questions)  of extra_max, counted above the max
    manual     hand-graded questions recorded so far        of manual_max (every question's
                                                            maximum; pending ones count 0)
    raw        points + extra + manual
    total      raw x the late multiplier                    of maximum = max_points + manual_max

results.json, feedback.html, the gradebook exports, the class report and the hand-grading
pages all take their numbers from `score_of`, and the text from `Score.summary`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from autograder.course.late import Lateness
from autograder.grading.questions import Question
from autograder.grading.result import GradeResult


@dataclass(frozen=True)
class ManualScore:
    """A hand-graded score of one question of one student."""

    student_id: str
    question: str
    points: float
    max_points: float
    comment: str


@dataclass(frozen=True)
class Score:
    """A submission's figures (see the module docstring)."""

    points: float
    max_points: float
    extra: float = 0.0
    extra_max: float = 0.0
    manual: float = 0.0
    manual_max: float = 0.0
    manual_pending: float = 0.0  # maxima of the questions nobody has graded yet
    days_late: int = 0
    multiplier: float = 1.0
    late_reason: str = ""
    graded: bool = True

    @property
    def raw(self) -> float:
        return round(self.points + self.extra + self.manual, 4)

    @property
    def maximum(self) -> float:
        return round(self.max_points + self.manual_max, 4)

    @property
    def total(self) -> float:
        return round(self.raw * self.multiplier, 4)

    @property
    def full_marks(self) -> bool:
        """Nothing was lost: every check, all extra credit, every hand-graded point, on time."""
        return (
            self.graded
            and self.points == self.max_points
            and self.extra == self.extra_max
            and self.manual == self.manual_max
            and self.manual_pending == 0
            and self.multiplier == 1.0
        )

    def summary(self) -> str:
        """The total in words, the same on every page."""
        if not self.graded:
            return f"not graded: 0 / {self.maximum:g}"
        parts = [f"automatic {self.points:g} / {self.max_points:g}"]
        if self.extra_max:
            parts.append(f"extra credit {self.extra:g} / {self.extra_max:g}")
        if self.manual_max:
            hand = f"hand-graded {self.manual:g} / {self.manual_max:g}"
            if self.manual_pending:
                hand += f" ({self.manual_pending:g} not graded yet)"
            parts.append(hand)
        text = f"{self.total:g} / {self.maximum:g} ({', '.join(parts)})"
        if self.multiplier != 1.0 or self.days_late:
            text += f"; {self.days_late} day(s) late, x {self.multiplier:g} of {self.raw:g}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "raw": self.raw, "maximum": self.maximum, "total": self.total}


def score_of(
    result: GradeResult,
    manual: Sequence[ManualScore] = (),
    questions: Sequence[Question] = (),
    lateness: Lateness | None = None,
) -> Score:
    """The score of a result, with the student's hand-graded scores (`manual`) out of the
    assignment's hand-graded `questions` (none: hand grading is not part of this output),
    and the late policy's verdict."""
    auto = [c for c in result.checks if not c.extra_credit]
    extra = [c for c in result.checks if c.extra_credit]
    recorded = {m.question: m for m in manual}
    manual_points = manual_max = pending = extra_points = extra_max = 0.0
    for q in questions:
        score = recorded.get(q.key)
        top = score.max_points if score is not None else (q.max_points or 0.0)
        if q.extra:
            extra_max += top
            extra_points += score.points if score is not None else 0.0
            continue
        manual_max += top
        if score is None:
            pending += top
        else:
            manual_points += score.points
    graded = result.graded
    return Score(
        points=round(sum(c.points for c in auto), 4) if graded else 0.0,
        max_points=round(sum(c.max_points for c in auto), 4),
        extra=round(extra_points + (sum(c.points for c in extra) if graded else 0.0), 4),
        extra_max=round(extra_max + sum(c.max_points for c in extra), 4),
        manual=round(manual_points, 4),
        manual_max=round(manual_max, 4),
        manual_pending=round(pending, 4),
        days_late=lateness.days_late if lateness else 0,
        multiplier=lateness.multiplier if lateness else 1.0,
        late_reason=lateness.reason if lateness and lateness.late else "",
        graded=graded,
    )
