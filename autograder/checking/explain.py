"""Why a graded call gave no value, in words for the student (and the likely cause).

The call's own error comes from the sandbox as data; only the student's own frames are shown,
never the harness's.
"""

from __future__ import annotations

from autograder.grading.outputs import CallResult


def explain_result(func: str, result: CallResult) -> str:
    """Why a call gave no value, in words for the student."""
    status, error = result.status, result.error
    if status == "missing":
        return (
            f"`{func}` is not defined in your submission: keep its name and signature where "
            "the assignment puts it (its answer cell, or the file beside the notebook it "
            "belongs in), and see the notes at the top: a cell or file that could not be run "
            "(a syntax error, a file not submitted) defines nothing."
        )
    if status == "error" and error.startswith("NotImplementedError"):
        return f"`{func}` is not implemented yet (it raised NotImplementedError)."
    if status == "error":
        where = _last_frame(result.traceback)
        return (
            f"`{func}` raised {error}" + (f"\n  at {where}" if where else "") + _error_hint(error)
        )
    if status == "not_reproducible":
        return (
            f"`{func}` returned different values when called twice with the same inputs and "
            "the same seed, so its grade would change from one grading to the next. Draw "
            "from the generator it is given, never os.urandom, the clock or a fresh unseeded "
            "generator."
        )
    if status == "changed_inputs":
        what = error.partition(": ")[2] or error
        return (
            f"`{func}`: {what}; the problem says its inputs are never changed. Work on new "
            "arrays (e = e + g, or np.array(e, dtype=float) first), not with += or [...] = on "
            "an argument."
        )
    if status == "too_large":
        return f"`{func}`: {error}."
    if status == "timeout":
        return f"`{func}` did not return within its time budget: an infinite loop, or far too slow."
    if status == "crashed" and error.startswith("its result could not be read"):
        why = error.partition(":")[2].strip()
        return (
            f"`{func}` returned a value the grader cannot read ({why}): return numbers, "
            "strings, bools, lists, tuples, numpy arrays or tensors, and dicts whose keys are "
            "Python strings or numbers (not numpy scalars)."
        )
    if status == "crashed":
        return f"calling `{func}` crashed: {error}."
    return f"`{func}` was not called: {error}."


# Errors whose cause is nearly always the same, and what to say about it.
ERROR_HINTS = (
    (
        ("AttributeError", "module 'numpy' has no attribute"),
        "code written for an old NumPy: np.float, np.int, np.bool, np.object, np.asscalar "
        "and friends were removed in NumPy 1.24; use float, int, bool, object, .item().",
    ),
)
# What an error means, where it names no single cause (said as what happened, not why).
ERROR_NOTES = (
    (
        ("inhomogeneous shape",),
        "an array was built from rows of different shapes (a (d,) and a (d, 1) or (n, 1) "
        "array broadcast together give such rows).",
    ),
    (
        ("operands could not be broadcast",),
        "two arrays in one operation have shapes that do not fit together (compare (d,) and "
        "(d, 1) vectors).",
    ),
)


def _error_hint(error: str) -> str:
    for needles, hint in ERROR_HINTS:
        if all(n in error for n in needles):
            return f"\n  Likely cause: {hint}"
    for needles, note in ERROR_NOTES:
        if all(n in error for n in needles):
            return f"\n  Note: {note}"
    return ""


def _last_frame(tb: str) -> str:
    frames = [line.strip() for line in tb.splitlines() if line.strip().startswith("File ")]
    student = [f for f in frames if "/harness/" not in f and "/fixtures/" not in f]
    return student[-1] if student else ""


NO_OUTPUT_PHRASES = (
    "is not defined in your submission",
    "is not implemented yet",
    "did not return within its time budget",
    "` crashed: ",
    "` was not called: ",
)


def gave_no_output(message: str) -> bool:
    """Whether a check message is about a call that returned nothing (not implemented,
    missing, crashed, timed out): no output of the student's to compare with anyone's."""
    return any(phrase in message for phrase in NO_OUTPUT_PHRASES)
