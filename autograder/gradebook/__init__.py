"""The class gradebook (SQLite): schema.py holds the tables, store.py every line of SQL."""

from autograder.gradebook.store import Gradebook, GradebookError, ScoreConflict, SubmissionRow, now

__all__ = ["Gradebook", "GradebookError", "ScoreConflict", "SubmissionRow", "now"]
