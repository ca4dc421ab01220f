"""Counts 4 bits per stored entry (values only), forgetting the 4-bit relative index (A4.3)."""
# effdl-sample: replaces=csc_size_formula expect_lost=a4.size_formula message_contains="index"


def csc_size_formula(M, N, K, final_pointer=True):
    return 4 * K * 2**N + (2**N + 1) * (M + N + 1)
