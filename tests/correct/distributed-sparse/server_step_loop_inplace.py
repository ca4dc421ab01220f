"""server_step that accumulates the average in place in a loop (A2.2)."""
# effdl-sample: replaces=server_step

import numpy as np


def server_step(W, grads, lr):
    W = np.array(W, dtype=float).reshape(-1)
    grads = list(grads)
    for g in grads:
        W -= lr * np.asarray(g, dtype=float).reshape(-1) / len(grads)
    return W
