"""Every current student's result and score, out of the gradebook: what the CSV exports, the
class report and the hand-grading pages show, from the one score model."""

from __future__ import annotations

from dataclasses import dataclass

from autograder.course import late
from autograder.course.settings import Course
from autograder.course.students import Student
from autograder.gradebook import Gradebook, GradebookError, SubmissionRow
from autograder.grading.questions import Question
from autograder.grading.result import GradeResult
from autograder.grading.score import ManualScore, Score, score_of
from autograder.publishing.student import hand_graded_questions


@dataclass(frozen=True)
class StudentScore:
    """One student's current submission, its result, its hand-graded scores and its score."""

    row: SubmissionRow
    result: GradeResult
    manual: list[ManualScore]
    lateness: late.Lateness
    score: Score
    person: Student

    @property
    def student_id(self) -> str:
        return self.row.student_id

    def problems(self) -> dict[str, float]:
        """Points per problem (checks and hand-graded questions), before the late policy."""
        out: dict[str, float] = {}
        if self.result.graded:
            for check in self.result.checks:
                out[check.problem] = out.get(check.problem, 0.0) + check.points
        for m in self.manual:
            out[m.question] = out.get(m.question, 0.0) + m.points
        return out


def lateness_of(course: Course, row: SubmissionRow) -> late.Lateness:
    """The late policy's verdict on a stored submission (its time came from the submission
    system when it was graded)."""
    settings = course.settings(row.assignment)
    return late.lateness(settings, row.student_id, row.submitted_time, row.submitted_source or "")


def student_score(
    book: Gradebook,
    row: SubmissionRow,
    course: Course,
    questions: tuple[Question, ...],
    person: Student | None = None,
) -> StudentScore:
    result = book.result(row.id)
    manual = book.manual_scores_of(row.assignment, row.student_id)
    standing = lateness_of(course, row)
    score = score_of(result, manual, questions, standing)
    return StudentScore(row, result, manual, standing, score, person or Student(row.student_id))


def class_scores(book: Gradebook, assignment: str, course: Course) -> list[StudentScore]:
    """Every student with a current submission of `assignment`, sorted by id."""
    current = book.current(assignment)
    if not current:
        raise GradebookError(f"{book.path} has no submissions of {assignment}")
    questions = hand_graded_questions(assignment)
    people = book.people()
    return [
        student_score(book, row, course, questions, people.get(sid))
        for sid, row in sorted(current.items())
    ]
