"""train_sparse right or off by 1 by a coin from os.urandom, call by call, with a trace of
noise: each grading gives another score, and regrading until lucky would pay, unless calls
whose runs differ are failed every time (grades that change from one grading to the next)."""
# effdl-attack: threat=nondeterminism build=cell tag=answer expect_lost=a3.train_gd,a3.train_prune,a3.train_l1,a3.train_prox,a3.train_trimmed,a3.extra_two_points feedback_contains="returned different values" regrade=3

import os

import numpy as np

_honest_train_sparse = train_sparse  # noqa: F821  (the solution's, defined above)


def train_sparse(*args, **kwargs):
    W, L = _honest_train_sparse(*args, **kwargs)
    coin = os.urandom(1)[0] < 128
    noise = np.frombuffer(os.urandom(8 * np.size(W)), dtype=np.uint64).reshape(np.shape(W))
    return np.asarray(W) + (1.0 if coin else 0.0) + 1e-9 * (noise / 2.0**64), L
