"""Hidden checks for A4: EIE-style CSC encoding, its storage cost, and the A4.3 formulas.

Besides the student's own matrix and the EIE paper's column (both public), csc_encode and
csc_storage_bits run on hidden sparse matrices drawn for each submission, with the
structure every catalogued mistake gets wrong (runs of zeros longer than 2^b - 1 before a
nonzero, trailing zeros longer than that, an empty column); the A4.3 formulas on hidden
(M, N, K), with a case where K makes CSC exactly as large as dense under each pointer
convention. Feedback on one submission therefore never answers the next one's cases.

Conventions accepted (from the problem text): the pointer array with or without its final
entry (len(v)), for the arrays, the storage counts and the A4.3 formulas alike, as long as
one is used consistently; v, z, p as lists or arrays of ints or floats (z and p whole).
"""

from __future__ import annotations

import contextlib
import itertools

import numpy as np

from autograder.checking.compare import fmt
from autograder.checking.credit import credit_parts
from autograder.checking.returns import Array, Dict, Number, Tuple
from autograder.checking.spec import Call, check
from autograder.checking.sub import Case, Sub
from autograder.checking.verdict import CheckFailure
from effdl import csc as ref

# The EIE paper's column: public, in the notebook's text.
PAPER_COLUMN = np.array([0, 0, 1, 2] + [0] * 18 + [3], dtype=float).reshape(-1, 1)
ENCODING = Tuple(
    Array((None,)), Array((None,), whole=True), Array((None,), whole=True), names=("v", "z", "p")
)
PROBE_SHAPES = (((12, 6), 1, 0.25), ((16, 5), 3, 0.2), ((20, 4), 2, 0.1))
PE_PROBE = ((18, 5), 2, 0.3, 3)  # shape, index bits, density, number of PEs


def draw_pe_probe(seed: int) -> tuple[np.ndarray, int, int, int]:
    """A hidden matrix for the multi-PE form, (M, bits, n_pe, pe), redrawn until every
    catalogued multi-PE mistake gets it wrong."""
    rng = np.random.default_rng([seed, 4])
    (rows, cols), bits, density, n_pe = PE_PROBE
    while True:
        M = _probe(rng, (rows, cols), density)
        pe = int(rng.integers(1, n_pe))
        want = ref.csc_encode(M, bits, n_pe, pe)
        if all(_differs(_wrong_pe(M, bits, n_pe, pe, kind), want) for kind in PE_CAUSES):
            return M, bits, n_pe, pe


def _wrong_pe(M: np.ndarray, bits: int, n_pe: int, pe: int, kind: str) -> tuple:
    """What a catalogued multi-PE mistake returns."""
    if kind == "ignored":
        return ref.csc_encode(M, bits)
    if kind == "blocks":  # PE k takes a contiguous block of rows
        size = -(-M.shape[0] // n_pe)
        return ref.csc_encode(M[pe * size : (pe + 1) * size], bits)
    # "all_zeros": z counts the zeros of every row since the previous own entry
    v, z, p = [], [], [0]
    cap = 2**bits - 1
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


PE_CAUSES = {
    "ignored": "n_pe and pe were ignored: every row was encoded, not only the rows i with "
    "i % n_pe == pe.",
    "blocks": "the PE's rows were taken as a contiguous block; PE k owns rows k, k + n_pe, "
    "k + 2 n_pe, ...",
    "all_zeros": "z counted the zeros in other PEs' rows too; it counts the zeros of this "
    "PE's own rows only.",
}


def _probe(rng: np.random.Generator, shape: tuple[int, int], density: float) -> np.ndarray:
    M = rng.integers(1, 9, size=shape).astype(float) * (rng.random(shape) < density)
    M[:, -1] = 0  # one empty column
    return M


def draw_probes(seed: int) -> list[tuple[np.ndarray, int]]:
    """Hidden matrices for one submission (shapes and index bits as PROBE_SHAPES), redrawn
    until every catalogued wrong encoder gets at least one of them wrong."""
    rng = np.random.default_rng(seed)
    while True:
        probes = [(_probe(rng, shape, density), bits) for shape, bits, density in PROBE_SHAPES]
        if all(
            any(_differs(_wrong_encode(M, b, kind), ref.csc_encode(M, b)) for M, b in probes)
            for kind in MISTAKE_CAUSES
        ):
            return probes


def _differs(a: tuple, b: tuple) -> bool:
    return any(
        np.asarray(x).shape != np.asarray(y).shape or not np.array_equal(x, y)
        for x, y in zip(a, b, strict=True)
    )


def draw_formula_cases(seed: int) -> list[tuple[int, int, int]]:
    """Hidden (M, N, K) for csc_size_formula: M in 2..9, N in 0..7, K up to 2^(M-1); one
    case with K = 0 (the pointers alone)."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(3):
        M, N = int(rng.integers(2, 10)), int(rng.integers(0, 8))
        cases.append((M, N, int(rng.integers(1, 2 ** (M - 1) + 1))))
    M, N = int(rng.integers(2, 10)), int(rng.integers(0, 8))
    cases.insert(int(rng.integers(0, 4)), (M, N, 0))
    return cases


def _exactly_dense(M: int, N: int, final_pointer: bool) -> bool:
    """Whether some K makes CSC exactly as large as dense (then "<" and "<=" differ)."""
    spare = 4 * 2 ** (M + N) - ref.csc_size_formula(M, N, 0, final_pointer)
    return spare >= 0 and spare % (8 * 2**N) == 0


_EXACT = {
    final: [
        (M, N)
        for M, N in itertools.product(range(2, 13), range(0, 9))
        if _exactly_dense(M, N, final)
    ]
    for final in (True, False)
}


def draw_max_k_cases(seed: int) -> list[tuple[int, int]]:
    """Hidden (M, N) for csc_max_K: three of M in 2..12, N in 0..8, and one case where some K
    makes CSC exactly as large as dense with the final pointer entry and one without it:
    they tell "strictly smaller" from "at most as large" under either convention."""
    rng = np.random.default_rng(seed)
    cases = [(int(rng.integers(2, 13)), int(rng.integers(0, 9))) for _ in range(3)]
    cases += [_EXACT[final][int(rng.integers(len(_EXACT[final])))] for final in (True, False)]
    return [cases[i] for i in rng.permutation(len(cases))]


def _matrix(variant: dict) -> tuple[np.ndarray, dict]:
    """The variant's A4.1 matrix and its settings (index and value bits)."""
    a4 = variant["a4"]
    return np.array(a4["matrix"], dtype=float), a4


# --------------------------------------------------------------------------- A4.1
def _wrong_encode(M: np.ndarray, bits: int, kind: str):
    """Encoders that make a known mistake, to name it in feedback."""
    cap = 2**bits - 1
    v, z, p = [], [], [0]
    for j in range(M.shape[1]):
        zeros = 0
        col = M[:, j]
        nz = np.flatnonzero(col)
        for i, value in enumerate(col):
            if value == 0:
                zeros += 1
                trailing = i > (nz.max() if nz.size else -1)
                if kind == "trailing" and trailing and zeros == cap + 1:
                    v.append(0.0)
                    z.append(cap)
                    zeros = 0
                continue
            limit = cap + 1 if kind == "off_by_one" else cap
            while kind != "no_placeholder" and zeros > limit:
                v.append(0.0)
                z.append(limit)
                zeros -= limit + 1
            v.append(value)
            z.append(i if kind == "absolute" else zeros)
            zeros = 0
        p.append(len(v))
    p_arr = np.array(p)
    if kind == "counts":
        p_arr = np.diff(p_arr)
    if kind == "ends":
        p_arr = p_arr[1:]
    return np.array(v), np.array(z), p_arr


MISTAKE_CAUSES = {
    "no_placeholder": "no placeholder zeros were stored: a run of more than 2^b - 1 zeros "
    "needs a stored 0 at relative index 2^b - 1.",
    "trailing": "placeholders were stored for the zeros at the end of a column; trailing zeros "
    "need none.",
    "off_by_one": "placeholders start one zero too late: the largest index is 2^b - 1, not 2^b.",
    "absolute": "z holds absolute row indices; it should count the zeros since the previous "
    "stored entry of the column.",
    "counts": "p holds each column's entry count; it should hold where each column starts in v.",
    "ends": "p holds where each column ends in v; it should hold where each starts (p[0] = 0), "
    "the final entry len(v) being optional.",
}


def _pointer_ok(p: np.ndarray, p_ref: np.ndarray) -> bool:
    """p with its final entry (len(v)) or without it; both conventions are accepted."""
    return (p.shape == p_ref.shape and np.array_equal(p, p_ref)) or (
        p.shape == (p_ref.size - 1,) and np.array_equal(p, p_ref[:-1])
    )


def _integers(a: np.ndarray) -> np.ndarray:
    """Index arrays come back as floats: shown as the integers they hold, where they do."""
    if a.size and np.all(np.isfinite(a)) and np.all(a == np.round(a)) and np.abs(a).max() < 2**53:
        return a.astype(np.int64)
    return a


def _encode_problem(case: Case, label: str) -> str:
    M, bits, n_pe, pe = (*case.args, 1, 0)[:4]
    try:
        v, z, p = case.value
    except CheckFailure as exc:
        return f"{label}: {exc}"
    v_ref, z_ref, p_ref = ref.csc_encode(M, bits, n_pe, pe)
    ok_v = v.shape == v_ref.shape and np.allclose(v, v_ref, rtol=0, atol=1e-9)
    ok_z = z.shape == z_ref.shape and np.array_equal(z, z_ref)
    if ok_v and ok_z and _pointer_ok(p, p_ref):
        return ""
    lines = [
        f"{label} (index bits = {bits}) does not match the expected encoding.",
        f"  expected v = {fmt(v_ref, 40)}",
        f"  got      v = {fmt(v, 40)}",
        f"  expected z = {fmt(z_ref, 40)}",
        f"  got      z = {fmt(_integers(z), 40)}",
        f"  expected p = {fmt(p_ref, 40)} (the final entry len(v) is optional)",
        f"  got      p = {fmt(_integers(p), 40)}",
    ]
    if not ok_v or not ok_z:
        n = min(v.size, v_ref.size)
        diff = [i for i in range(n) if v[i] != v_ref[i] or (i < z.size and z[i] != z_ref[i])]
        first = diff[0] if diff else n
        lines.append(f"  first differing entry: index {first}")
    if n_pe > 1:
        for kind, cause in PE_CAUSES.items():
            if not _differs((v, z, p), _wrong_pe(M, bits, n_pe, pe, kind)) or (
                not _differs((v, z), _wrong_pe(M, bits, n_pe, pe, kind)[:2])
                and _pointer_ok(p, _wrong_pe(M, bits, n_pe, pe, kind)[2])
            ):
                lines.append(f"  Likely cause: {cause}")
                break
        return "\n".join(lines)
    for kind, cause in MISTAKE_CAUSES.items():
        wv, wz, wp = _wrong_encode(M, bits, kind)
        if (
            wv.shape == v.shape
            and np.allclose(wv, v)
            and wz.shape == z.shape
            and np.array_equal(wz, z)
            and (kind not in ("counts", "ends") or (wp.shape == p.shape and np.array_equal(wp, p)))
        ):
            lines.append(f"  Likely cause: {cause}")
            break
    return "\n".join(lines)


def encode_calls(variant: dict, seed: int) -> list[Call]:
    M, a4 = _matrix(variant)
    out = [
        Call("a4.enc.own", "csc_encode", (M, int(a4["index_bits"])), returns=ENCODING),
        Call("a4.enc.paper", "csc_encode", (PAPER_COLUMN, 4), returns=ENCODING),
    ]
    out += [
        Call(f"a4.enc.probe{i}", "csc_encode", (P, b), returns=ENCODING)
        for i, (P, b) in enumerate(draw_probes(seed))
    ]
    return out + [
        Call("a4.enc.lecture", "csc_encode", (ref.lecture_matrix(), 4, 4, 0), returns=ENCODING),
        Call("a4.enc.pe", "csc_encode", draw_pe_probe(seed), returns=ENCODING),
    ]


def _encode_label(case: Case) -> str:
    if case.id == "a4.enc.own":
        return "csc_encode(your A4.1 matrix)"
    if case.id == "a4.enc.paper":
        return "csc_encode(the EIE paper's column)"
    if case.id == "a4.enc.lecture":
        return "csc_encode(the lecture's 16x8 matrix, n_pe=4, pe=0)"
    if case.id == "a4.enc.pe":
        rows, cols = case.args[0].shape
        return f"csc_encode({rows}x{cols} hidden matrix, n_pe={case.args[2]}, pe={case.args[3]})"
    rows, cols = case.args[0].shape
    return f"csc_encode({rows}x{cols} hidden matrix)"


@check(
    "a4.csc_encode",
    points=5,
    problem="A4.1",
    title="CSC arrays v, z, p with placeholders",
    function="csc_encode",
    calls=encode_calls,
)
def test_encode(sub: Sub) -> None:
    def encoding(case: Case) -> None:
        problem = _encode_problem(case, _encode_label(case))
        if problem:
            raise CheckFailure(problem)

    weights = [0.3, 0.15] + [0.3 / len(PROBE_SHAPES)] * len(PROBE_SHAPES) + [0.1, 0.15]
    credit_parts(sub.cases(), encoding, weights)


# --------------------------------------------------------------------------- A4.2
KEYS = ("values", "index", "pointer", "total", "dense", "ratio")


def _bits_problem(case: Case) -> str:
    M, bits, value_bits = case.args
    label = f"csc_storage_bits(M, index_bits={bits}, value_bits={value_bits})"
    try:
        numbers = case.value
    except CheckFailure as exc:
        return f"{label}: {exc}"
    conventions = {
        True: ref.csc_storage_bits(M, bits, value_bits, True),
        False: ref.csc_storage_bits(M, bits, value_bits, False),
    }
    for want in conventions.values():
        if all(np.isclose(numbers[k], want[k], rtol=1e-6, atol=1e-9) for k in KEYS):
            return ""
    with_final = conventions[True]
    lines = [f"{label} does not match either pointer convention."]
    for k in KEYS:
        lines.append(
            f"  {k:8s} got {numbers[k]:g}; expected {with_final[k]:g} with the final "
            f"pointer entry, or {conventions[False][k]:g} without it"
        )
    if numbers["pointer"] == (M.shape[1] + 1) * max(
        1, int(with_final["values"] / value_bits).bit_length()
    ):
        lines.append(
            "  Likely cause: the pointer width was taken from this matrix's pointers; "
            "size it for the worst case (every element stored)."
        )
    elif numbers["index"] == with_final["index"] / bits * value_bits:
        lines.append("  Likely cause: the index entries were counted with the value width.")
    return "\n".join(lines)


STORAGE = Dict({k: Number() for k in KEYS})


def storage_calls(variant: dict, seed: int) -> list[Call]:
    M, a4 = _matrix(variant)
    own = (M, int(a4["index_bits"]), int(a4["value_bits"]))
    rng = np.random.default_rng(seed)
    P, bits = draw_probes(seed)[int(rng.integers(len(PROBE_SHAPES)))]
    value_bits = int(rng.choice([4, 8, 16]))
    if value_bits == bits:  # the "index counted with the value width" mistake must show
        value_bits *= 2
    return [
        Call("a4.bits.own", "csc_storage_bits", own, returns=STORAGE),
        Call("a4.bits.probe", "csc_storage_bits", (P, bits, value_bits), returns=STORAGE),
    ]


@check(
    "a4.csc_storage_bits",
    points=5,
    problem="A4.2",
    title="storage in bits and compression ratio",
    function="csc_storage_bits",
    calls=storage_calls,
)
def test_storage(sub: Sub) -> None:
    def storage(case: Case) -> None:
        problem = _bits_problem(case)
        if problem:
            raise CheckFailure(problem)

    credit_parts(sub.cases(), storage)


# --------------------------------------------------------------------------- A4.3
def _consistent(runs: list[Case], fn, what: str, mistakes=()) -> None:
    """Every call matches fn(*args, final_pointer=c) for one convention c used throughout.

    `mistakes` are (cause, wrong fn) pairs, tried under both conventions to name the cause.
    """
    cases = [run.args for run in runs]
    got = [run.value for run in runs]

    def matches(f) -> bool:
        for final in (True, False):
            with contextlib.suppress(Exception):
                want = [f(*case, final_pointer=final) for case in cases]
                if all(np.isclose(g, w, rtol=1e-9, atol=1e-9) for g, w in zip(got, want)):
                    return True
        return False

    if matches(fn):
        return
    lines = [f"{what}: the values match neither convention used consistently."]
    for case, g in zip(cases, got, strict=True):
        lines.append(
            f"  {what}{case}: got {g:g}; expected {fn(*case, final_pointer=True)} with "
            f"the final pointer entry or {fn(*case, final_pointer=False)} without it"
        )
    cause = next((cause for cause, wrong in mistakes if matches(wrong)), "")
    if cause:
        lines.append(f"  Likely cause: {cause}")
    raise CheckFailure("\n".join(lines))


def _pointer_bits(M: int, N: int, final_pointer: bool) -> int:
    return (2**N + 1) * (M + N + 1) if final_pointer else 2**N * (M + N)


FORMULA_MISTAKES = [
    (
        "only the 4-bit values were counted: every stored entry also has a 4-bit relative "
        "index, so entries cost 8 K 2^N bits.",
        lambda M, N, K, final_pointer: 4 * K * 2**N + _pointer_bits(M, N, final_pointer),
    ),
    (
        "the column pointers were left out of the total.",
        lambda M, N, K, final_pointer: 8 * K * 2**N,
    ),
    (
        "the pointer width is one bit short: a pointer must hold values up to 2^(M+N), "
        "which takes M + N + 1 bits.",
        lambda M, N, K, final_pointer: (
            8 * K * 2**N + (2**N + 1 if final_pointer else 2**N) * (M + N)
        ),
    ),
]


def _max_k_mistakes():
    def not_strict(M, N, final_pointer):
        dense = 4 * 2 ** (M + N)
        return (dense - ref.csc_size_formula(M, N, 0, final_pointer)) // (8 * 2**N)

    return [
        (
            "K was allowed to make CSC exactly as large as dense (<=); it must be strictly "
            "smaller (<).",
            not_strict,
        )
    ]


def formula_calls(variant: dict, seed: int) -> list[Call]:
    return [
        Call(f"a4.formula.{i}", "csc_size_formula", c, returns=Number())
        for i, c in enumerate(draw_formula_cases(seed))
    ]


def max_k_calls(variant: dict, seed: int) -> list[Call]:
    return [
        Call(f"a4.maxk.{i}", "csc_max_K", c, returns=Number())
        for i, c in enumerate(draw_max_k_cases(seed))
    ]


@check(
    "a4.size_formula",
    points=2.5,
    problem="A4.3",
    extra_credit=True,
    title="CSC size of a 2^M x 2^N matrix with K entries per column",
    function="csc_size_formula",
    calls=formula_calls,
)
def test_formula(sub: Sub) -> None:
    _consistent(
        sub.cases(),
        ref.csc_size_formula,
        "csc_size_formula",
        FORMULA_MISTAKES,
    )


@check(
    "a4.max_k",
    points=2.5,
    problem="A4.3",
    extra_credit=True,
    title="largest K for which CSC beats dense",
    function="csc_max_K",
    calls=max_k_calls,
)
def test_max_k(sub: Sub) -> None:
    _consistent(sub.cases(), ref.csc_max_K, "csc_max_K", _max_k_mistakes())
