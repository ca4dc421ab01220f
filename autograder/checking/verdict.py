"""A check's verdict on a submission, raised from inside the check.

A check passes by returning; it fails by raising CheckFailure (an AssertionError, so check
files also read as pytest tests) and gives partial credit by raising Partial. Either
message is student feedback: what was expected, what came, by how much, where.
"""

from __future__ import annotations


class CheckFailure(AssertionError):
    """The submission is wrong here; the message says how."""


class Partial(AssertionError):
    """Partial credit: `fraction` of the check's points, with feedback on what was missed."""

    def __init__(self, fraction: float, message: str) -> None:
        super().__init__(message)
        self.fraction = max(0.0, min(1.0, float(fraction)))
