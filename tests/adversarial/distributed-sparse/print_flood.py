"""Prints tens of megabytes at top level and in every graded call of an honest function
(printing megabytes)."""
# effdl-attack: build=cell tag=answer feedback_contains="more bytes not kept" quick=1

import numpy as np

for _ in range(2000):
    print("x" * 10_000)


def clip_gradient(g, T):
    print("y" * 20_000)
    return np.clip(np.asarray(g, dtype=float).reshape(-1), -T, T)
