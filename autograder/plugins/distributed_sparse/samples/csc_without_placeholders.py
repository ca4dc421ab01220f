"""The CSC encoder never stores placeholder zeros, so z overflows its bits (A4.1)."""
# effdl-sample: replaces=csc_encode expect_lost=a4.csc_encode,a4.csc_storage_bits

import numpy as np


def csc_encode(M, index_bits, n_pe=1, pe=0):
    M = np.asarray(M, dtype=float)
    v, z, p = [], [], [0]
    for j in range(M.shape[1]):
        zeros = 0
        for value in M[pe::n_pe, j]:
            if value == 0:
                zeros += 1
                continue
            v.append(value)
            z.append(zeros)
            zeros = 0
        p.append(len(v))
    return np.array(v), np.array(z), np.array(p)
