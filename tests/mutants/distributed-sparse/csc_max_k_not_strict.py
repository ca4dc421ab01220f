"""Returns the largest K with CSC size <= dense instead of strictly smaller (off by one) (A4.3)."""
# effdl-sample: replaces=csc_max_K expect_lost=a4.max_k message_contains="strictly"


def csc_max_K(M, N, final_pointer=True):
    dense = 4 * 2 ** (M + N)
    K = -1
    while K + 1 <= 2**M and csc_size_formula(M, N, K + 1, final_pointer) <= dense:
        K += 1
    return K
