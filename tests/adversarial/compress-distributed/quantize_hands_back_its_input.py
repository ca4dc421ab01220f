"""A quantizer that hands its input back: right only on the hidden all-zero input, which
earned a seventh of C3.1 until such cases counted only beside real work (found by a sweep
of do-nothing bodies over every graded function after round 13)."""
# effdl-attack: build=cell replaces=uniform_quantize expect_lost=c3.uniform_quantize,c3.qcs_measure zero=c3.uniform_quantize feedback_contains="doing nothing gives too" threat=vacuous


def uniform_quantize(y, bits, R=None):
    return y
