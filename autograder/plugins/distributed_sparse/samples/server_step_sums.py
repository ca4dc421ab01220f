"""The server sums the worker gradients instead of averaging them (A2.2)."""
# effdl-sample: replaces=server_step expect_lost=a2.server_step,a2.train_plain,a2.train_terngrad,a2.train_clip,a2.train_tern_clip

import numpy as np


def server_step(W, grads, lr):
    W = np.asarray(W, dtype=float).reshape(-1)
    return W - lr * np.sum(np.asarray(grads, dtype=float), axis=0)
