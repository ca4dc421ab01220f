"""effdl.csc: EIE-style CSC encoding, decoding and storage size (HOMEWORK A4)."""

import numpy as np
import pytest

from effdl.csc import csc_decode, csc_encode, csc_max_K, csc_size_formula, csc_storage_bits

# HOMEWORK A4.1: (row, col) of w0 .. w12; the test matrix stores w_k as the value k + 1.
A41_POSITIONS = [
    (1, 0), (5, 0), (2, 1), (4, 1), (7, 1), (5, 2), (0, 3),
    (5, 3), (7, 4), (2, 4), (6, 5), (4, 7), (5, 7),
]  # fmt: skip
A41_V_LABELS = [
    "w0", "w1", "w2", "w3", "w4", "0", "w5", "w6", "0",
    "w7", "w9", "0", "w8", "0", "w10", "0", "w11", "w12",
]  # fmt: skip
A41_Z = [1, 3, 2, 1, 2, 3, 1, 0, 3, 0, 2, 3, 0, 3, 2, 3, 0, 0]
A41_P = [0, 2, 5, 7, 10, 13, 15, 15, 18]

# The EIE lecture's 16 x 8 matrix: the columns holding a nonzero, row by row.
EIE_ROWS = {
    0: (0, 2, 4, 5, 6), 1: (1, 3, 6), 2: (2, 4, 7), 3: (1, 5), 4: (1, 4), 5: (3, 7),
    6: (4, 6), 7: (0, 3, 6), 8: (0, 7), 9: (0, 6, 7), 10: (4,), 11: (2, 7),
    12: (0, 2, 5, 7), 13: (0, 1, 6), 14: (2, 3, 4, 5), 15: (2, 3, 5),
}  # fmt: skip
# PE0's stored entries, "w<row><col>" (w12_5 = row 12, column 5).
EIE_PE0_V = [(0, 0), (8, 0), (12, 0), (4, 1), (0, 2), (12, 2), (0, 4), (4, 4), (0, 5), (12, 5),
             (0, 6), (8, 7), (12, 7)]  # fmt: skip
EIE_PE0_Z = [0, 1, 0, 1, 0, 2, 0, 0, 0, 2, 0, 2, 0]
EIE_PE0_P = [0, 3, 4, 6, 6, 8, 10, 11, 13]


def a41_matrix() -> np.ndarray:
    M = np.zeros((8, 8))
    for k, (r, c) in enumerate(A41_POSITIONS):
        M[r, c] = k + 1
    return M


def eie_value(r: int, c: int) -> float:
    return 1.0 + r + 16 * c  # distinct and nonzero


def eie_matrix() -> np.ndarray:
    M = np.zeros((16, 8))
    for r, cols in EIE_ROWS.items():
        for c in cols:
            M[r, c] = eie_value(r, c)
    return M


# ---------------------------------------------------------------- published examples
def test_a41_encoding():
    v, z, p = csc_encode(a41_matrix(), index_bits=2)
    labels = ["0" if x == 0 else f"w{int(x) - 1}" for x in v]
    assert labels == A41_V_LABELS
    assert z.tolist() == A41_Z
    assert p.tolist() == A41_P
    assert v.dtype == np.float64 and z.dtype == np.int64 and p.dtype == np.int64


def test_a42_storage_with_the_final_pointer():
    bits = csc_storage_bits(a41_matrix(), index_bits=2, value_bits=8)
    assert {k: bits[k] for k in ("values", "index", "pointer", "total", "dense")} == {
        "values": 144,
        "index": 36,
        "pointer": 63,  # 9 entries of 7 bits: the worst case p[-1] = 64 needs 7 bits
        "total": 243,
        "dense": 512,
    }
    assert bits["ratio"] == pytest.approx(512 / 243, rel=1e-12)
    assert bits["ratio"] == pytest.approx(2.107, abs=5e-4)
    assert all(isinstance(bits[k], int) for k in ("values", "index", "pointer", "total", "dense"))


def test_a42_storage_without_the_final_pointer():
    bits = csc_storage_bits(a41_matrix(), index_bits=2, value_bits=8, final_pointer=False)
    assert (bits["pointer"], bits["total"], bits["dense"]) == (48, 228, 512)  # 8 x 6 bits
    assert bits["ratio"] == pytest.approx(2.246, abs=5e-4)


def test_eie_lecture_example_pe0():
    M = eie_matrix()
    v, z, p = csc_encode(M, index_bits=4, n_pe=4, pe=0)
    assert v.tolist() == [eie_value(r, c) for r, c in EIE_PE0_V]
    assert z.tolist() == EIE_PE0_Z
    assert p.tolist() == EIE_PE0_P
    np.testing.assert_array_equal(csc_decode(v, z, p, 16, n_pe=4, pe=0), M[[0, 4, 8, 12]])


def test_eie_lecture_example_all_pes_rebuild_the_matrix():
    M = eie_matrix()
    rebuilt = np.zeros_like(M)
    for pe in range(4):
        v, z, p = csc_encode(M, 4, n_pe=4, pe=pe)
        rebuilt[pe::4] = csc_decode(v, z, p, 16, n_pe=4, pe=pe)
    np.testing.assert_array_equal(rebuilt, M)


def test_paper_column_example():
    column = np.array([0, 0, 1, 2] + [0] * 18 + [3], dtype=float).reshape(-1, 1)
    v, z, p = csc_encode(column, index_bits=4)
    assert v.tolist() == [1, 2, 0, 3]
    assert z.tolist() == [2, 0, 15, 2]
    assert p.tolist() == [0, 4]


# ---------------------------------------------------------------- placeholders
def test_trailing_zeros_need_no_placeholder():
    column = np.array([[5.0]] + [[0.0]] * 40)
    v, z, p = csc_encode(column, index_bits=1)
    assert (v.tolist(), z.tolist(), p.tolist()) == ([5.0], [0], [0, 1])


def test_a_run_of_exactly_the_cap_needs_no_placeholder_and_one_more_does():
    for b in (1, 2, 3):
        cap = 2**b - 1
        exact = np.array([0.0] * cap + [7.0]).reshape(-1, 1)
        assert csc_encode(exact, b)[1].tolist() == [cap]
        longer = np.array([0.0] * (cap + 1) + [7.0]).reshape(-1, 1)
        v, z, _ = csc_encode(longer, b)
        assert v.tolist() == [0.0, 7.0] and z.tolist() == [cap, 0]


def _expected_placeholders(column: np.ndarray, index_bits: int) -> int:
    """Count placeholders by arithmetic: a gap of g zeros before a nonzero takes
    floor(g / 2^b) placeholders, each standing for 2^b - 1 zeros plus itself."""
    count, gap = 0, 0
    for x in column:
        if x == 0:
            gap += 1
        else:
            count += gap // 2**index_bits
            gap = 0
    return count


def random_sparse(rng: np.random.Generator, shape: tuple[int, int], density: float) -> np.ndarray:
    M = rng.normal(size=shape) * (rng.random(shape) < density)
    M[M == 0] = 0.0  # no negative zeros
    return M


def test_placeholders_exactly_where_a_run_exceeds_the_cap():
    rng = np.random.default_rng(2024)
    for trial in range(300):
        b = int(rng.integers(1, 5))
        M = random_sparse(rng, (int(rng.integers(1, 60)), int(rng.integers(1, 6))), 0.1)
        v, z, p = csc_encode(M, b)
        cap = 2**b - 1
        assert np.all(z <= cap) and np.all(z >= 0)
        for j in range(M.shape[1]):
            stored = v[p[j] : p[j + 1]]
            placeholders = stored == 0
            assert np.count_nonzero(placeholders) == _expected_placeholders(M[:, j], b), trial
            # A placeholder always sits at the largest relative index.
            assert np.all(z[p[j] : p[j + 1]][placeholders] == cap)
            assert np.count_nonzero(stored) == np.count_nonzero(M[:, j])


def test_decode_inverts_encode_for_random_matrices():
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(160):
        n_rows, n_cols = int(rng.integers(1, 70)), int(rng.integers(1, 7))
        M = random_sparse(rng, (n_rows, n_cols), float(rng.choice([0.02, 0.1, 0.3, 0.8])))
        b = int(rng.integers(1, 9))
        n_pe = int(rng.integers(1, 5))
        for pe in range(n_pe):
            v, z, p = csc_encode(M, b, n_pe=n_pe, pe=pe)
            assert len(p) == n_cols + 1 and p[-1] == len(v) == len(z)
            out = csc_decode(v, z, p, n_rows, n_pe=n_pe, pe=pe)
            np.testing.assert_array_equal(out, M[pe::n_pe])
            assert out.shape == (len(range(pe, n_rows, n_pe)), n_cols)
            checked += 1
    assert checked > 300


def test_encode_accepts_lists_ints_and_float32_and_keeps_input():
    M = a41_matrix()
    saved = M.copy()
    for form in (M.tolist(), M.astype(np.int64), M.astype(np.float32)):
        v, z, p = csc_encode(form, 2)
        assert z.tolist() == A41_Z and p.tolist() == A41_P and v.dtype == np.float64
    np.testing.assert_array_equal(M, saved)


# ---------------------------------------------------------------- A4.3 formula
def test_a43_formula_values():
    # With the final entry: 8K 2^N + (2^N + 1)(M + N + 1); without: 8K 2^N + 2^N (M + N).
    assert csc_size_formula(4, 4, 6) == 8 * 6 * 16 + 17 * 9
    assert csc_size_formula(4, 4, 6, final_pointer=False) == 8 * 6 * 16 + 16 * 8
    assert csc_size_formula(3, 3, 8) == 8 * 8 * 8 + 9 * 7  # 2^3 x 2^3: A4.1's shape
    assert isinstance(csc_size_formula(10, 6, 3), int)


def test_a43_formula_agrees_with_storage_bits_for_4_bit_entries():
    rng = np.random.default_rng(3)
    for M_exp, N_exp in [(2, 1), (3, 2), (4, 3), (3, 3)]:
        rows, cols = 2**M_exp, 2**N_exp
        for K in range(0, rows + 1):
            matrix = np.zeros((rows, cols))
            for j in range(cols):  # K nonzeros per column; 4-bit indices need no placeholder
                matrix[rng.choice(rows, size=K, replace=False), j] = 1.0
            for final in (True, False):
                bits = csc_storage_bits(matrix, 4, 4, final_pointer=final)
                assert bits["total"] == csc_size_formula(M_exp, N_exp, K, final)
                assert bits["dense"] == 4 * 2 ** (M_exp + N_exp)


def test_a43_max_k_is_the_largest_k_below_dense():
    for M_exp in range(0, 11):
        for N_exp in range(0, 9):
            dense = 4 * 2 ** (M_exp + N_exp)
            for final in (True, False):
                fits = [
                    K
                    for K in range(2**M_exp + 1)
                    if csc_size_formula(M_exp, N_exp, K, final) < dense
                ]
                assert csc_max_K(M_exp, N_exp, final) == (max(fits) if fits else -1)


def test_a43_max_k_examples():
    assert csc_max_K(4, 4) == 6 and csc_max_K(4, 4, False) == 6
    assert csc_max_K(8, 8) == 125
    assert csc_max_K(0, 3) == -1  # 9 pointers of 4 bits already exceed 32 dense bits


def test_a43_rejects_bad_arguments():
    for args in [(-1, 2, 1), (2, -1, 1), (2, 2, -1), (2, 2, 5), (2.5, 2, 1)]:
        with pytest.raises(ValueError):
            csc_size_formula(*args)
    with pytest.raises(ValueError, match="M"):
        csc_max_K(-1, 2)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "M, kwargs, words",
    [
        (np.ones(4), {}, "2-D"),
        (np.ones((2, 2, 2)), {}, "2-D"),
        (np.zeros((0, 3)), {}, "non-empty"),
        (np.ones((3, 3)), {"index_bits": 0}, "index_bits"),
        (np.ones((3, 3)), {"n_pe": 0}, "n_pe"),
        (np.ones((3, 3)), {"n_pe": 2, "pe": 2}, "pe"),
        (np.ones((3, 3)), {"pe": -1}, "pe"),
        (np.array([[1.0, np.nan]]), {}, "non-finite"),
        (np.array([[1.0, np.inf]]), {}, "non-finite"),
    ],
)
def test_encode_rejects_bad_input(M, kwargs, words):
    kwargs = {"index_bits": 2, **kwargs}
    with pytest.raises(ValueError, match=words):
        csc_encode(M, **kwargs)


def test_storage_bits_rejects_bad_widths():
    with pytest.raises(ValueError, match="value_bits"):
        csc_storage_bits(np.eye(3), 2, 0)
    with pytest.raises(ValueError, match="index_bits"):
        csc_storage_bits(np.eye(3), 0, 8)
    with pytest.raises(ValueError, match="2-D"):
        csc_storage_bits(np.ones(3), 2, 8)


@pytest.mark.parametrize(
    "v, z, p, words",
    [
        ([1.0, 2.0], [0], [0, 2], "len"),
        ([1.0, 2.0], [0, 0], [0, 1], "end at len"),
        ([1.0, 2.0], [0, 0], [0, 2, 1, 2], "never decrease"),
        ([1.0], [0], [1, 1], "start at 0"),
        ([1.0], [-1], [0, 1], "non-negative"),
        ([1.0], [0.5], [0, 1], "integers"),
        ([1.0, 2.0], [2, 1], [0, 2], "runs past"),
        ([[1.0]], [0], [0, 1], "1-D"),
    ],
)
def test_decode_rejects_inconsistent_arrays(v, z, p, words):
    with pytest.raises(ValueError, match=words):
        csc_decode(v, z, p, n_rows=4)


def test_decode_rejects_bad_pe_arguments():
    v, z, p = csc_encode(np.eye(4), 2)
    with pytest.raises(ValueError, match="pe"):
        csc_decode(v, z, p, 4, n_pe=2, pe=3)
    with pytest.raises(ValueError, match="n_rows"):
        csc_decode(v, z, p, 0)
