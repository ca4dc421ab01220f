"""Averages each worker's gradient over its coordinates (axis 1) instead of over workers (A2.2)."""
# effdl-sample: replaces=server_step expect_lost=a2.server_step,a2.train_plain,a2.train_terngrad,a2.train_clip,a2.train_tern_clip message_contains="axis"

import numpy as np


def server_step(W, grads, lr):
    W = np.asarray(W, dtype=float).reshape(-1)
    G = np.asarray(grads, dtype=float).reshape(-1, W.size)
    return W - lr * G.mean(axis=1)
