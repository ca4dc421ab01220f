"""Encodes only the PE's own rows, but z counts the zeros of every row in between, the other
PEs' rows included (A4.1, multi-PE form)."""
# effdl-sample: replaces=csc_encode expect_lost=a4.csc_encode message_contains="other PEs' rows too"

import numpy as np


def csc_encode(M, index_bits, n_pe=1, pe=0):
    M = np.asarray(M, dtype=float)
    cap = 2**index_bits - 1
    v, z, p = [], [], [0]
    for j in range(M.shape[1]):
        zeros = 0
        for i in range(M.shape[0]):
            if i % n_pe != pe or M[i, j] == 0:
                zeros += 1
                continue
            while zeros > cap:
                v.append(0.0)
                z.append(cap)
                zeros -= cap + 1
            v.append(M[i, j])
            z.append(zeros)
            zeros = 0
        p.append(len(v))
    return np.array(v), np.array(z), np.array(p)
