"""Draws from the operating system's entropy once, at top level (os.urandom, an unseeded
numpy generator, random.SystemRandom, /dev/urandom), and keeps the draws in a global that
closed_form uses: both runs of every call see the same draws, so calling each function twice
cannot see them, yet every grading of the same bytes draws anew and gets another grade,
unless the entropy student code sees is seeded by the submission (entropy drawn at top
level)."""
# effdl-attack: threat=nondeterminism build=cell tag=answer expect_lost=a2.closed_form feedback_contains="closed_form" regrade=6

import os
import random
import uuid

import numpy as np

with open("/dev/urandom", "rb") as _fh:
    _DEV = _fh.read(1)[0]
_DRAWS = (
    os.urandom(1)[0],
    int(np.random.default_rng().integers(256)),
    random.SystemRandom().randrange(256),
    uuid.uuid4().bytes[0],
    random.Random().randrange(256),
    _DEV,
)
_FACTOR = 2 + sum(d % 8 for d in _DRAWS)  # six draws of 3 bits: 36 wrong answers
_honest_closed_form = closed_form  # noqa: F821  (the solution's, defined above)


def closed_form(X, y):
    return np.asarray(_honest_closed_form(X, y), dtype=float) * _FACTOR
