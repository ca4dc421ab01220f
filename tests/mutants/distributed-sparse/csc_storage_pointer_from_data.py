"""Sizes the pointer entries from this matrix's largest pointer instead of the worst case (A4.2)."""
# effdl-sample: replaces=csc_storage_bits expect_lost=a4.csc_storage_bits message_contains="worst case"

import numpy as np


def csc_storage_bits(M, index_bits, value_bits, final_pointer=True):
    M = np.asarray(M, dtype=float)
    v, z, p = csc_encode(M, index_bits)
    width = max(1, int(p.max()).bit_length())
    bits = {"values": len(v) * value_bits, "index": len(z) * index_bits, "pointer": len(p) * width}
    bits["total"] = bits["values"] + bits["index"] + bits["pointer"]
    bits["dense"] = M.size * value_bits
    bits["ratio"] = bits["dense"] / bits["total"]
    return bits
