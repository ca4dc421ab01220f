"""TernGrad whose draws come from os.urandom instead of the generator it is given: right in
distribution, so its statistical checks (and those of the training runs that use it) pass,
but no two gradings see the same draws, unless every call is made twice and compared
(answers that depend on os.urandom)."""
# effdl-attack: threat=nondeterminism build=cell tag=answer expect_lost=a2.terngrad,a2.train_terngrad,a2.train_tern_clip feedback_contains="returned different values" regrade=2

import os

import numpy as np


def terngrad(g, s=None, rng=None):
    g = np.asarray(g, dtype=float).reshape(-1)
    if s is None:
        s = float(np.max(np.abs(g)))
    if s == 0:
        return np.zeros_like(g)
    mine = np.random.default_rng(int.from_bytes(os.urandom(8), "little"))
    keep = mine.random(g.size) < np.minimum(np.abs(g) / s, 1.0)
    return s * np.sign(g) * keep
