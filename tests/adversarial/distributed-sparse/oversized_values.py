"""Answers the true/false questions and two functions with tuples of three 14 MiB arrays:
no one array is over the old per-array cap, but the first three values together fill the
grader's disk cap and stop the run, unless a call's whole value is capped before it is
written (returning huge values)."""
# effdl-attack: threat=amplification build=cell tag=answer expect_lost=a1.true_false,a2.closed_form,a4.csc_storage_bits feedback_contains="too large to check"

import numpy as np

PART = 14 * 2**20 // 8


def _huge():
    return tuple(np.full(PART + k, 1.5) for k in range(3))


TF_ANSWERS = _huge()


def closed_form(X, y):
    return _huge()


def csc_storage_bits(M, index_bits, value_bits, final_pointer=True):
    return _huge()
