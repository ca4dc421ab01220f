"""effdl.variants: canonical numbers, per-student draws and the lessons they must keep.

The lesson checks below are written independently of the generator's own checks: they
re-run the reference functions on each variant and test what HOMEWORK/DESIGN ask for.
"""

import itertools
import json
import os
import time

import numpy as np
import pytest

from effdl.csc import csc_encode, csc_max_K
from effdl.distributed import closed_form, train_distributed
from effdl.sparse_opt import train_sparse
from effdl.variants import distributed_sparse_variant, prune_quantize_variant, variant_id

SECRET = "a test secret, long enough"
SLOW = os.environ.get("EFFDL_SLOW_TESTS") == "1"
# Ids put through the full re-simulation of every lesson. Generating and re-checking one
# variant costs ~0.1 s on a small machine, so the default run checks 100 ids; set
# EFFDL_SLOW_TESTS=1 for 1,000 (and for the 10,000-id distinctness test below).
N_IDS = 1000 if SLOW else 100


@pytest.fixture(scope="module")
def many_variants() -> dict[str, dict]:
    start = time.perf_counter()
    variants = {f"s{i:04d}": distributed_sparse_variant(SECRET, f"s{i:04d}") for i in range(N_IDS)}
    per_variant = (time.perf_counter() - start) / N_IDS
    # A loose guard against pathological slowness (typically ~50 ms on a slow 2-core VM).
    assert per_variant < 0.5, f"{per_variant * 1e3:.0f} ms per variant"
    return variants


def _walk(value, path="variant"):
    """Yield (path, value) for every leaf of a JSON-like structure."""
    if isinstance(value, dict):
        for k, v in value.items():
            assert isinstance(k, str), f"{path}: key {k!r} is not a string"
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")
    else:
        yield path, value


def _assert_plain_json(variant: dict) -> None:
    for path, leaf in _walk(variant):
        assert type(leaf) in (int, float, str, bool), f"{path} is a {type(leaf).__name__}"
    assert json.loads(json.dumps(variant, allow_nan=False)) == variant


# ---------------------------------------------------------------- the canonical variant
def test_canonical_variant_is_homeworks_numbers():
    v = distributed_sparse_variant()
    assert v["assignment"] == "distributed-sparse" and v["variant"] == "canonical"
    a2, a3, a4 = v["a2"], v["a3"], v["a4"]
    assert a2["X"] == [[-1, 2, 0], [3, 0, 1], [2, -1, 3]]
    assert a2["y"] == [-7, 5, 11]
    assert a2["W_star"] == [1, -3, 2]
    assert (a2["lr"], a2["steps"], a2["clip_T"], a2["tern_clip_T"]) == (0.1, 50, [1, 2, 5, 10], 5)
    assert a3["X"] == [[1, -2, -1, -1, 1], [2, -1, 2, 0, -2], [-1, 0, 2, 2, 1]]
    assert a3["y"] == [7, 1, 1]
    assert a3["truth"] == [0, -3, 0, 0, 1]
    assert (a3["mu"], a3["steps"], a3["k"], a3["n_trim"]) == (0.02, 200, 2, 3)
    assert a3["l1_lams"] == [0.2, 0.5, 1.0, 2.0]
    assert a3["prox_ts"] == [0.004, 0.01, 0.02, 0.04]
    assert a3["trimmed_ts"] == [0.02, 0.04, 0.1, 0.2]
    positions = [(1, 0), (5, 0), (2, 1), (4, 1), (7, 1), (5, 2), (0, 3),
                 (5, 3), (7, 4), (2, 4), (6, 5), (4, 7), (5, 7)]  # fmt: skip
    assert a4["labels"] == {f"w{k}": list(rc) for k, rc in enumerate(positions)}
    M = np.array(a4["matrix"])
    assert M.shape == (8, 8) and np.count_nonzero(M) == 13
    for k, (r, c) in enumerate(positions):
        assert M[r, c] == k + 1
    assert (a4["index_bits"], a4["value_bits"]) == (2, 8)
    assert all(len(pair) == 2 for pair in a4["formula_MN"])
    _assert_plain_json(v)


def test_canonical_when_secret_or_student_is_missing():
    canonical = distributed_sparse_variant()
    assert distributed_sparse_variant(SECRET, None) == canonical
    assert distributed_sparse_variant(None, "alice") == canonical
    assert variant_id(None, "alice") == variant_id(SECRET, None) == "canonical"


# ---------------------------------------------------------------- ids and determinism
def test_variant_id_is_short_stable_hex_and_hides_the_secret():
    vid = variant_id(SECRET, "alice")
    assert len(vid) == 12 and all(ch in "0123456789abcdef" for ch in vid)
    assert vid == variant_id(SECRET, "alice")
    assert vid != variant_id(SECRET, "bob")
    assert vid != variant_id(SECRET + "!", "alice")
    assert vid != variant_id(SECRET, "alice", assignment="prune-quantize")
    assert SECRET not in json.dumps(distributed_sparse_variant(SECRET, "alice"))


@pytest.mark.parametrize("secret, student", [("", "alice"), (SECRET, ""), (SECRET, 42)])
def test_variant_id_rejects_empty_or_non_string_ids(secret, student):
    with pytest.raises(ValueError):
        variant_id(secret, student)


def test_same_id_same_numbers_and_plain_json():
    a = distributed_sparse_variant(SECRET, "alice")
    b = distributed_sparse_variant(SECRET, "alice")
    assert a == b
    assert a["variant"] == variant_id(SECRET, "alice")
    assert a != distributed_sparse_variant("another secret!!", "alice")
    _assert_plain_json(a)


def test_variants_are_distinct(many_variants):
    data = {json.dumps({k: v for k, v in var.items() if k != "variant"}, sort_keys=True)
            for var in many_variants.values()}  # fmt: skip
    assert len(data) == len(many_variants)
    assert len({var["variant"] for var in many_variants.values()}) == len(many_variants)


@pytest.mark.slow
@pytest.mark.skipif(not SLOW, reason="10,000 variants take minutes: set EFFDL_SLOW_TESTS=1")
def test_ten_thousand_ids_give_at_least_9900_distinct_variants():
    seen = set()
    for i in range(10_000):
        var = distributed_sparse_variant(SECRET, f"student-{i}")
        seen.add(json.dumps({k: v for k, v in var.items() if k != "variant"}, sort_keys=True))
    assert len(seen) >= 9_900


# ---------------------------------------------------------------- the lessons, re-simulated
def _a2_lessons(a2: dict) -> None:
    X, y, W_star = np.array(a2["X"]), np.array(a2["y"]), np.array(a2["W_star"])
    assert X.shape == (3, 3) and abs(np.linalg.det(X)) >= 0.5  # integer matrix: |det| >= 1
    assert np.array_equal(X @ W_star, y)
    assert np.all(np.abs(W_star) <= 5) and W_star.dtype.kind == "i"
    np.testing.assert_allclose(closed_form(X, y), W_star, rtol=0, atol=1e-9)
    W_hist, _ = train_distributed(X, y, lr=0.1, steps=50)
    distance = np.linalg.norm(W_hist - W_star, axis=1)
    assert distance[-1] < 1e-6, "plain PS-SGD must reach W* within 1e-6"
    assert distance[1] > 0.1 * distance[0], "the plain run must not be (nearly) one-step"
    assert distance[5] > 1e-2 * distance[0]
    for T in (1, 2):
        W_hist, _ = train_distributed(X, y, lr=0.1, steps=50, clip=T)
        assert np.linalg.norm(W_hist[-1] - W_star) > 0.1, f"T={T} must visibly not converge"
    for T in (5, 10):
        W_hist, _ = train_distributed(X, y, lr=0.1, steps=50, clip=T)
        assert np.linalg.norm(W_hist[-1] - W_star) < 1e-6, f"T={T} must converge"


def _near_tie_gap(X, y, W_hist, method, mu=0.02):
    """Smallest margin of the selection made in any step (top-2 or trimmed-3)."""
    W = W_hist[:-1]
    v = W - mu * 2 * (W @ X.T - y) @ X  # row k: the gradient step taken from W_k
    if method == "prune":
        ordered = np.sort(np.abs(v), axis=1)[:, ::-1]
        return float(np.min(ordered[:, 1] - ordered[:, 2]))
    # trimmed_w: W_0 = 0 is a full tie in every variant (settled by index), so skip it.
    basis = np.abs(v) if method == "trimmed" else np.abs(W[1:])
    ordered = np.sort(basis, axis=1)
    return float(np.min(ordered[:, 3] - ordered[:, 2]))


def _a3_lessons(a3: dict) -> None:
    X, y, truth = np.array(a3["X"]), np.array(a3["y"]), np.array(a3["truth"])
    assert X.shape == (3, 5) and np.count_nonzero(truth) == 2
    assert np.array_equal(X @ truth, y)
    support = tuple(np.flatnonzero(truth))
    for size in (0, 1, 2):
        for subset in itertools.combinations(range(5), size):
            if subset == support:
                continue
            if size == 0:
                residual = float(y @ y)
            else:
                cols = X[:, list(subset)]
                coef = np.linalg.lstsq(cols, y, rcond=None)[0]
                residual = float(np.sum((cols @ coef - y) ** 2))
            assert residual > 1e-6, f"support {subset} also fits: the 2-sparse truth is not unique"
    assert np.linalg.matrix_rank(X[:, list(support)]) == 2
    W_hist, L_hist = train_sparse(X, y, "gd")
    assert L_hist[-1] < 1e-8 and np.all(np.abs(W_hist[-1]) > 0.02), "plain GD must end dense"
    runs = [("prune", None)] + [
        (m, t) for m in ("trimmed", "trimmed_w") for t in (0.02, 0.04, 0.1, 0.2)
    ]
    for method, t in runs:
        W_hist, _ = train_sparse(X, y, method, threshold=t)
        assert np.linalg.norm(W_hist[-1] - truth) < 1e-3, f"{method} t={t} misses the truth"
        assert _near_tie_gap(X, y, W_hist, method) >= 1e-6, f"{method} t={t}: near-tie"


def _a4_lessons(a4: dict) -> None:
    M = np.array(a4["matrix"])
    assert M.shape == (8, 8)
    K = np.count_nonzero(M)
    assert 10 <= K <= 16
    assert sorted(M[M != 0].tolist()) == list(range(1, K + 1))
    assert sorted(a4["labels"], key=lambda s: int(s[1:])) == [f"w{k}" for k in range(K)]
    for label, (r, c) in a4["labels"].items():
        assert M[r, c] == int(label[1:]) + 1
    # Placeholders, counted by arithmetic: a gap of g zeros before a nonzero needs g // 4.
    placeholders = 0
    for col in M.T:
        rows = np.flatnonzero(col)
        gaps = np.diff(np.concatenate([[-1], rows])) - 1
        placeholders += int(np.sum(gaps // 4))
    assert placeholders >= 2
    v, _, _ = csc_encode(M, 2)
    assert np.count_nonzero(v == 0) == placeholders
    assert np.min(np.count_nonzero(M, axis=0)) <= 1, "needs an empty or single-entry column"
    assert (a4["index_bits"], a4["value_bits"]) == (2, 8)
    for M_exp, N_exp in a4["formula_MN"]:
        assert csc_max_K(M_exp, N_exp) >= 1 and csc_max_K(M_exp, N_exp, False) >= 1


def test_every_variant_keeps_every_lesson(many_variants):
    for sid, var in many_variants.items():
        assert var["variant"] == variant_id(SECRET, sid)
        try:
            _a2_lessons(var["a2"])
            _a3_lessons(var["a3"])
            _a4_lessons(var["a4"])
        except AssertionError as exc:
            raise AssertionError(f"student {sid}: {exc}") from exc


def test_variants_keep_the_shared_settings(many_variants):
    canonical = distributed_sparse_variant()
    for var in many_variants.values():
        _assert_plain_json(var)
        for part, keys in {
            "a2": ("lr", "steps", "clip_T", "tern_clip_T"),
            "a3": ("mu", "steps", "k", "l1_lams", "prox_ts", "trimmed_ts", "n_trim"),
            "a4": ("index_bits", "value_bits"),
        }.items():
            for key in keys:
                assert var[part][key] == canonical[part][key]


def test_canonical_keeps_the_a3_and_a4_lessons():
    # A2's canonical data predates the stricter per-student rule (it ends 5.4e-5 from W*);
    # HOMEWORK's numbers for it are tested in test_distributed.py.
    canonical = distributed_sparse_variant()
    _a3_lessons(canonical["a3"])
    _a4_lessons(canonical["a4"])


# ---------------------------------------------------------------- assignment B
def test_prune_quantize_canonical():
    assert prune_quantize_variant() == {
        "assignment": "prune-quantize",
        "variant": "canonical",
        "prune_qs": [30, 50, 70],
        "final_q": 80,
        "nbits": [6, 5, 4, 3, 2],
        "qat_bits": [4, 3, 2],
        "seed": 0,
    }


def test_prune_quantize_per_student():
    options = {(30, 50, 70), (40, 60, 80), (35, 55, 75)}
    seen = set()
    for i in range(60):
        var = prune_quantize_variant(SECRET, f"s{i}")
        assert var == prune_quantize_variant(SECRET, f"s{i}")
        assert var["variant"] == variant_id(SECRET, f"s{i}", assignment="prune-quantize")
        assert tuple(var["prune_qs"]) in options
        assert isinstance(var["seed"], int) and 0 <= var["seed"] < 2**31
        assert (var["final_q"], var["nbits"], var["qat_bits"]) == (80, [6, 5, 4, 3, 2], [4, 3, 2])
        _assert_plain_json(var)
        seen.add(tuple(var["prune_qs"]))
    assert seen == options
