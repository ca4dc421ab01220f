"""Returns values that stress the grader's own code: 1e308 and infinities in a trajectory
(plots), NaN, deep nesting, huge integers, a list holding an object (returning extreme
values)."""
# effdl-attack: build=cell tag=answer expect_lost=a3.loss_and_grad,a3.train_gd,a3.train_prune,a3.train_l1,a3.train_prox,a3.train_trimmed,a3.extra_two_points,a3.soft_threshold,a4.size_formula,a4.max_k feedback_contains="expected numbers"

import numpy as np


def train_sparse(X, y, method, mu=0.02, steps=200, lam=None, threshold=None):
    W = np.full((steps + 1, np.shape(X)[1]), 1e308)
    W[::2] = -1e308
    W[0] = 0.0
    L = np.full(steps + 1, np.inf)
    L[1::3] = np.nan
    return W, L


def loss_and_grad(W, X, y):
    return 10**400, [float("nan")] * 5


def soft_threshold(v, t):
    return [object()] * len(v)


def csc_size_formula(M, N, K, final_pointer=True):
    nested = 0
    for _ in range(5000):
        nested = [nested]
    return nested


def csc_max_K(M, N, final_pointer=True):
    return -(2**80)
