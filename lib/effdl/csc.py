"""EIE-style compressed sparse column (CSC) encoding of a sparse weight matrix (assignment A4).

A column is stored as its entries v (the nonzero values), for each entry the number z of
zeros since the previous stored entry of the same column (or since the top), and pointers p
where column j's entries are v[p[j]:p[j + 1]]. An index has only index_bits bits, so a run of
more than 2^index_bits - 1 zeros before a nonzero is broken by a stored placeholder zero at
relative index 2^index_bits - 1. With n_pe processing elements, PE k owns the rows i with
i % n_pe == k and encodes them as a matrix of its own.
"""

import numpy as np


def lecture_matrix() -> np.ndarray:
    """The lecture's 16x8 matrix, entry (i, j) = 1 + i + 16 j where it is nonzero: PE 0 of 4
    with a 4-bit index gives z = [0,1,0,1,0,2,0,0,0,2,0,2,0], p = [0,3,4,6,6,8,10,11,13]."""
    rows = (  # the columns of each row's nonzero entries
        (0, 2, 4, 5, 6), (1, 3, 6), (2, 4, 7), (1, 5), (1, 4), (3, 7), (4, 6), (0, 3, 6),
        (0, 7), (0, 6, 7), (4,), (2, 7), (0, 2, 5, 7), (0, 1, 6), (2, 3, 4, 5), (2, 3, 5),
    )  # fmt: skip
    M = np.zeros((16, 8))
    for i, cols in enumerate(rows):
        for j in cols:
            M[i, j] = 1 + i + 16 * j
    return M


def _as_finite_matrix(M: np.ndarray) -> np.ndarray:
    """Return M as a float64 2-D array with at least one row and column and finite values."""
    A = np.array(M, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] == 0 or A.shape[1] == 0:
        raise ValueError(f"M must be a non-empty 2-D matrix, got shape {A.shape}")
    if not np.all(np.isfinite(A)):
        raise ValueError("M holds non-finite values (inf or nan)")
    return A


def _check_int(value: int, name: str, low: int) -> int:
    """Return value as an int, or raise ValueError unless it is an integer >= low."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def csc_encode(
    M: np.ndarray, index_bits: int, n_pe: int = 1, pe: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encode the rows of M that belong to processing element pe in CSC form.

    M: 2-D matrix; index_bits: bits per relative row index (so z <= 2^index_bits - 1);
    n_pe: number of PEs; pe: which PE (it owns rows i with i % n_pe == pe).
    Returns (v, z, p): v float64 stored values (placeholders are 0), z int64 relative row
    indices (len(z) == len(v)), p int64 column pointers with n_cols + 1 entries, p[-1] == len(v).
    """
    A = _as_finite_matrix(M)
    index_bits = _check_int(index_bits, "index_bits", 1)
    n_pe = _check_int(n_pe, "n_pe", 1)
    pe = _check_int(pe, "pe", 0)
    if pe >= n_pe:
        raise ValueError(f"pe must be in [0, n_pe) = [0, {n_pe}), got {pe}")
    largest_z = 2**index_bits - 1
    own_rows = A[pe::n_pe]
    v, z, p = [], [], [0]
    for j in range(A.shape[1]):
        zeros = 0
        for value in own_rows[:, j]:
            if value == 0:
                zeros += 1
                continue
            while zeros > largest_z:
                v.append(0.0)
                z.append(largest_z)
                zeros -= largest_z + 1
            v.append(value)
            z.append(zeros)
            zeros = 0
        p.append(len(v))
    return np.array(v, dtype=np.float64), np.array(z, dtype=np.int64), np.array(p, dtype=np.int64)


def csc_decode(
    v: np.ndarray, z: np.ndarray, p: np.ndarray, n_rows: int, n_pe: int = 1, pe: int = 0
) -> np.ndarray:
    """Rebuild the rows owned by PE pe from its CSC arrays (the inverse of csc_encode).

    v, z, p: as returned by csc_encode; n_rows: row count of the WHOLE matrix; n_pe, pe: as
    in csc_encode. Returns a float64 array of shape (number of rows i with i % n_pe == pe,
    len(p) - 1): row r of the result is row pe + r * n_pe of the matrix.
    """
    n_rows = _check_int(n_rows, "n_rows", 1)
    n_pe = _check_int(n_pe, "n_pe", 1)
    pe = _check_int(pe, "pe", 0)
    if pe >= n_pe:
        raise ValueError(f"pe must be in [0, n_pe) = [0, {n_pe}), got {pe}")
    v = np.array(v, dtype=np.float64)
    z = np.array(z)
    p = np.array(p)
    if v.ndim != 1 or z.ndim != 1 or p.ndim != 1:
        raise ValueError(f"v, z and p must be 1-D, got shapes {v.shape}, {z.shape}, {p.shape}")
    if len(z) != len(v):
        raise ValueError(
            f"z must have one entry per stored value: len(v)={len(v)}, len(z)={len(z)}"
        )
    if len(p) < 2:
        raise ValueError(f"p needs n_cols + 1 >= 2 entries, got {len(p)}")
    if p[0] != 0 or p[-1] != len(v):
        raise ValueError(f"p must start at 0 and end at len(v)={len(v)}, got {p.tolist()}")
    if np.any(np.diff(p) < 0):
        raise ValueError(f"p must never decrease, got {p.tolist()}")
    if np.any(z < 0) or np.any(z != np.round(z)) or np.any(p != np.round(p)):
        raise ValueError("z and p must hold non-negative integers")
    z = z.astype(np.int64)
    p = p.astype(np.int64)
    own_rows = len(range(pe, n_rows, n_pe))
    out = np.zeros((own_rows, len(p) - 1))
    for j in range(len(p) - 1):
        row = -1
        for e in range(p[j], p[j + 1]):
            row += z[e] + 1
            if row >= own_rows:
                raise ValueError(
                    f"column {j} runs past the {own_rows} rows owned by PE {pe} at entry {e}"
                )
            out[row, j] = v[e]
    return out


def csc_storage_bits(
    M: np.ndarray, index_bits: int, value_bits: int, final_pointer: bool = True
) -> dict:
    """Bits needed to store M in CSC form (one PE) compared with storing it dense.

    Every pointer entry gets the bits of the largest value a pointer could take for a matrix of
    this shape, i.e. when every element is stored: n_rows * n_cols for the final entry, or
    n_rows * (n_cols - 1) for the last column's start when final_pointer is False (then p has
    only n_cols entries). Returns a dict of ints "values", "index", "pointer", "total",
    "dense" (n_rows * n_cols * value_bits) and the float "ratio" = dense / total.
    """
    A = _as_finite_matrix(M)
    index_bits = _check_int(index_bits, "index_bits", 1)
    value_bits = _check_int(value_bits, "value_bits", 1)
    v, z, p = csc_encode(A, index_bits)
    n_rows, n_cols = A.shape
    if final_pointer:
        n_pointers, largest = n_cols + 1, n_rows * n_cols
    else:
        n_pointers, largest = n_cols, n_rows * (n_cols - 1)
    pointer_bits = max(1, int(largest).bit_length())
    bits = {
        "values": len(v) * value_bits,
        "index": len(z) * index_bits,
        "pointer": n_pointers * pointer_bits,
    }
    bits["total"] = bits["values"] + bits["index"] + bits["pointer"]
    bits["dense"] = n_rows * n_cols * value_bits
    bits["ratio"] = bits["dense"] / bits["total"]
    return bits


def csc_size_formula(M: int, N: int, K: int, final_pointer: bool = True) -> int:
    """CSC size in bits of a 2^M x 2^N matrix with K stored entries (placeholders included) per
    column, 4-bit values and 4-bit relative indices.

    With the final pointer entry: 8 K 2^N + (2^N + 1)(M + N + 1); without it:
    8 K 2^N + 2^N (M + N). Returns an int.
    """
    M = _check_int(M, "M", 0)
    N = _check_int(N, "N", 0)
    K = _check_int(K, "K", 0)
    if K > 2**M:
        raise ValueError(f"K must be at most 2^M = {2**M} (the column length), got {K}")
    if final_pointer:
        return 8 * K * 2**N + (2**N + 1) * (M + N + 1)
    return 8 * K * 2**N + 2**N * (M + N)


def csc_max_K(M: int, N: int, final_pointer: bool = True) -> int:
    """Largest integer K for which csc_size_formula(M, N, K) is strictly below the dense size
    4 * 2^(M + N) bits. Returns an int, or -1 when not even K = 0 is smaller.
    """
    M = _check_int(M, "M", 0)
    N = _check_int(N, "N", 0)
    dense = 4 * 2 ** (M + N)
    pointers = csc_size_formula(M, N, 0, final_pointer)
    return max(-1, (dense - pointers - 1) // (8 * 2**N))
