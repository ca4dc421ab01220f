"""Reads the clock once, at top level, and keeps what it read in a global that closed_form
uses: both runs of every call see the same value, so calling each function twice cannot see
it, yet every grading of the same bytes read another time and got another grade, unless the
clock student code sees is the same at every grading (a clock read at top level)."""
# effdl-attack: threat=nondeterminism build=cell tag=answer expect_lost=a2.closed_form feedback_contains="closed_form" regrade=6

import datetime
import time

import numpy as np

# three readings (microsecond digits of the wall clock, of the performance counter and of
# datetime.now()): 22 wrong answers, so that six gradings of the same bytes rarely agree
_BITS = (
    time.time_ns() // 1000 % 8,
    time.perf_counter_ns() // 1000 % 8,
    datetime.datetime.now().microsecond % 8,
)
_honest_closed_form = closed_form  # noqa: F821  (the solution's, defined above)


def closed_form(X, y):
    return np.asarray(_honest_closed_form(X, y), dtype=float) * (2 + sum(_BITS))
