"""Gives PE k a contiguous block of rows (k * ceil(rows / n_pe) onwards) instead of the rows
i with i % n_pe == k (A4.1, multi-PE form)."""
# effdl-sample: replaces=csc_encode expect_lost=a4.csc_encode message_contains="contiguous block"

import numpy as np


def csc_encode(M, index_bits, n_pe=1, pe=0):
    M = np.asarray(M, dtype=float)
    size = -(-M.shape[0] // n_pe)
    own = M[pe * size : (pe + 1) * size]
    cap = 2**index_bits - 1
    v, z, p = [], [], [0]
    for j in range(own.shape[1]):
        zeros = 0
        for value in own[:, j]:
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
