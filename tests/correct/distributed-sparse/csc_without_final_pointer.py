"""The CSC pointer without its final entry, and A4.2-A4.3 counted the same way throughout (A4)."""
# effdl-sample: replaces=csc_encode,csc_storage_bits,csc_size_formula,csc_max_K quick=1

import numpy as np


def csc_encode(M, index_bits, n_pe=1, pe=0):
    M = np.asarray(M, dtype=float)[pe::n_pe]
    cap = 2**index_bits - 1
    v, z, p = [], [], []
    for j in range(M.shape[1]):
        p.append(len(v))
        rows = np.flatnonzero(M[:, j])
        previous = -1
        for row in rows:
            gap = row - previous - 1
            while gap > cap:
                v.append(0.0)
                z.append(cap)
                gap -= cap + 1
            v.append(M[row, j])
            z.append(gap)
            previous = row
    return v, z, p


def csc_storage_bits(M, index_bits, value_bits, final_pointer=False):
    M = np.asarray(M, dtype=float)
    v, z, p = csc_encode(M, index_bits)
    rows, cols = M.shape
    width = len(bin(rows * (cols - 1))) - 2  # bits of the largest pointer
    bits = {"values": len(v) * value_bits, "index": len(z) * index_bits, "pointer": cols * width}
    bits["total"] = sum(bits.values())
    bits["dense"] = M.size * value_bits
    bits["ratio"] = bits["dense"] / bits["total"]
    return bits


def csc_size_formula(M, N, K, final_pointer=False):
    return 8 * K * 2**N + 2**N * (M + N)


def csc_max_K(M, N, final_pointer=False):
    dense = 4 * 2 ** (M + N)
    K = -1
    while csc_size_formula(M, N, K + 1) < dense:
        K += 1
    return K
