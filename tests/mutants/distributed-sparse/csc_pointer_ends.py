"""Stores where each column ends in v in p (no leading 0), not where it starts (A4.1)."""
# effdl-sample: replaces=csc_encode expect_lost=a4.csc_encode message_contains="where each column ends"

import numpy as np


def csc_encode(M, index_bits, n_pe=1, pe=0):
    M = np.asarray(M, dtype=float)
    cap = 2**index_bits - 1
    v, z, p = [], [], [0]
    for j in range(M.shape[1]):
        zeros = 0
        for value in M[pe::n_pe, j]:
            if value == 0:
                zeros += 1
                continue
            while zeros > cap:
                v.append(0.0)
                z.append(cap)
                zeros -= cap + 1
            v.append(value)
            z.append(zeros)
            zeros = 0
        p.append(len(v))
    return np.array(v), np.array(z), np.array(p[1:])
