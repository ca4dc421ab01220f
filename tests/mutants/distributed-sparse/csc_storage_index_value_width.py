"""Counts the relative indices with the value width instead of the index width (A4.2)."""
# effdl-sample: replaces=csc_storage_bits expect_lost=a4.csc_storage_bits message_contains="value width"

import numpy as np


def csc_storage_bits(M, index_bits, value_bits, final_pointer=True):
    M = np.asarray(M, dtype=float)
    v, z, p = csc_encode(M, index_bits)
    width = max(1, int(M.size).bit_length())
    bits = {"values": len(v) * value_bits, "index": len(z) * value_bits, "pointer": len(p) * width}
    bits["total"] = bits["values"] + bits["index"] + bits["pointer"]
    bits["dense"] = M.size * value_bits
    bits["ratio"] = bits["dense"] / bits["total"]
    return bits
