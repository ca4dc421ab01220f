"""Starts placeholders one zero too late: allows z = 2^b, which does not fit in b bits (A4.1)."""
# effdl-sample: replaces=csc_encode expect_lost=a4.csc_encode,a4.csc_storage_bits message_contains="2^b - 1"

import numpy as np


def csc_encode(M, index_bits, n_pe=1, pe=0):
    M = np.asarray(M, dtype=float)
    cap = 2**index_bits
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
    return np.array(v), np.array(z), np.array(p)
