"""The parameter-server run with TernGrad seeded from the clock (perf_counter_ns) instead of
the generator it is given: its training curves are right in distribution, so the statistical
checks pass, but every grading draws anew, unless calls are made twice and compared (answers
that depend on the clock)."""
# effdl-attack: threat=nondeterminism build=cell tag=answer expect_lost=a2.train_terngrad,a2.train_tern_clip feedback_contains="not reproducible" regrade=2

import time

import numpy as np

_honest_train_distributed = train_distributed  # noqa: F821  (the solution's, defined above)


def train_distributed(X, y, lr=0.1, steps=50, clip=None, ternary=False, scaler=None, rng=None):
    if ternary:
        rng = np.random.default_rng(time.perf_counter_ns())
    return _honest_train_distributed(X, y, lr, steps, clip, ternary, scaler, rng)
