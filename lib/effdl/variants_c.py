"""Assignment C (compress-distributed): each student's numbers and the answer key.

`compress_distributed_variant(secret, student_id)` follows `effdl.variants`: without a secret
or a student id it returns the canonical numbers; otherwise an HMAC-SHA256 of the student id
under the course secret seeds numpy Generators that draw the data, and each part is accepted
only when simulating the reference shows the lesson of its problem:

- C2: the test gradient's top-k by |g| differs from its top-k by signed value, with no
  near-tie at the cut; on the workers' least-squares problem, top-k and 1-bit without error
  feedback stall far from the optimum (>= EF_STALLED of the starting distance after the run)
  and with it get close (<= EF_REACHED), while dense SGD converges; the DGC gradient sequence
  is clipped on some steps and not on others, and leaving out momentum correction or
  momentum factor masking changes what is sent or kept;
- C3: with exact measurements ISTA recovery fails at M = 2 s (median relative error >
  CS_FAILED) and succeeds at M = M_succeed (< CS_RECOVERED);
- C4: the hook-harness gradients have no near-ties at the top-k cut on any rank and step
  (with or without error feedback), and error feedback changes the averaged gradient.

`compress_distributed_key(variant)` runs the reference functions on a variant and returns
every number a check or a TA needs, as plain JSON data. numpy only (no torch): the C4 key
uses `effdl.compression.simulate_topk_hook`, not a process group.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from effdl.compression import (
    clip_by_norm,
    dense_bytes,
    dgc_sparsity,
    dgc_step,
    least_squares_optimum,
    onebit_bytes,
    onebit_compress,
    onebit_quantize,
    qsgd_bytes,
    qsgd_variance_bound,
    simulate_topk_hook,
    terngrad_bytes,
    topk_bytes,
    topk_compress,
    topk_count,
    topk_sparsify,
    train_workers,
)
from effdl.qcs import (
    ista,
    lipschitz_constant,
    qcs_bytes,
    quantizer_levels,
    recovery_trial,
    sparse_regression_data,
    train_qcs,
    uniform_quantize,
)
from effdl.truefalse import tf_answers
from effdl.variants import CANONICAL, _accept_first, _digest, variant_id

COMPRESS_DISTRIBUTED = "compress-distributed"

# What a draw must show (checked by simulation).
EF_STALLED = 0.25  # without error feedback: final / starting distance to the optimum above this
EF_REACHED = 0.05  # with error feedback: below this
PLAIN_REACHED = 0.01  # dense SGD: below this
CS_FAILED = 0.5  # median relative recovery error at M = 2 s above this
CS_RECOVERED = 0.05  # ... at M = M_succeed below this
TOPK_GAP = 0.1  # the k-th and (k+1)-th largest |.| differ by at least this

C2_SETTINGS = {"ratio": 0.25, "qsgd_s": 4}
EF_SETTINGS = {"n_workers": 4, "rows": 20, "dim": 30, "lr": 0.01, "steps": 2000, "ratio": 0.1}
DGC_SETTINGS = {"ratio": 0.25, "momentum": 0.5, "n_workers": 4, "steps": 4, "n": 8}
CS_SETTINGS = {
    "N": 128,
    "M_grid": [8, 16, 24, 32, 48, 64, 96],
    "bits": [2, 4, 8],
    "lam_ratio": 0.01,
    "ista_steps": 500,
    "trials": 5,
    "M_succeed": 64,
}
ISTA_SETTINGS = {"M": 8, "N": 16, "lam": 0.02, "steps": [1, 5, 50]}
QUANT_SETTINGS = {"bits": 3}
QCS_TRAIN_SETTINGS = {
    "n_samples": 2000,
    "N": 256,
    "nnz": 4,
    "noise": 0.1,
    "n_workers": 4,
    "batch": 2,
    "lr": 0.5,
    "steps": 200,
    "M": 64,
    "bits": 6,
    "lam_ratio": 0.01,
    "ista_steps": 150,
}
HOOK_SETTINGS = {"world_size": 2, "ratio": 0.25, "steps": 3, "n": 16}
HOGWILD_SETTINGS = {
    "n": 20000,
    "d": 10000,
    "nnz": 10,
    "dense_d": 100,
    "lr": 0.05,
    "epochs": 2,
    "procs": [1, 2, 4],
}

# The canonical numbers (hand-picked where they are small enough to read).
_CANONICAL_G = (0.5, -3.25, 1.75, 0.0, -0.75, 2.5, -1.5, 1.0, -2.0, 0.25, 3.0, -1.25)
_CANONICAL_DGC = (
    (1.0, -2.0, 0.5, 3.0, -0.5, 1.5, 0.0, -1.0),
    (0.5, -1.5, 2.5, -0.5, 1.0, 0.5, -2.0, 1.0),
    (-1.5, 0.5, 1.0, 0.5, -3.5, -1.0, 1.5, 0.0),
    (2.0, 1.0, -0.5, 1.0, 0.5, -1.5, 0.5, 2.5),
)
_CANONICAL_DGC_CLIP = 8.0  # threshold 8 / sqrt(4) = 4: steps 1 and 3 are clipped
_CANONICAL_QUANT = (-2.4, 0.37, 1.05, -0.66, 2.9, 0.12, -1.81, 0.5)
_CANONICAL_SEED = 20180430  # seeds the canonical draws of the larger arrays


# ---------------------------------------------------------------- C2
def _topk_gap(v: np.ndarray, k: int) -> float:
    ordered = -np.sort(-np.abs(v))
    return float(ordered[k - 1] - ordered[k]) if k < v.size else math.inf


def _draw_g(rng: np.random.Generator) -> np.ndarray:
    """12 entries: 11 distinct magnitudes from 0.25..4 in steps of 0.25 with random signs, and
    one zero (which exercises the 1-bit rule's "+" group), in random order."""
    mags = rng.choice(np.arange(1, 17) * 0.25, size=11, replace=False)
    g = np.concatenate([mags * rng.choice([-1.0, 1.0], size=11), [0.0]])
    return rng.permutation(g)


def _g_problems(g: np.ndarray) -> list[str]:
    k = topk_count(g.size, C2_SETTINGS["ratio"])
    by_magnitude = set(topk_compress(g, C2_SETTINGS["ratio"])[0].tolist())
    by_value = set(np.argsort(-g, kind="stable")[:k].tolist())
    problems = []
    if by_magnitude == by_value:
        problems.append("top-k by signed value keeps the same entries")
    if _topk_gap(g, k) < TOPK_GAP:
        problems.append("near-tie at the top-k cut")
    return problems


def _draw_ef(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Integer least-squares data per worker: A_k in -2..2, b_k = A_k w_k, w_k in -3..3."""
    s = EF_SETTINGS
    A = rng.integers(-2, 3, size=(s["n_workers"], s["rows"], s["dim"]))
    W = rng.integers(-3, 4, size=(s["n_workers"], s["dim"]))
    return A, np.einsum("krd,kd->kr", A, W)


def _ef_runs(A: np.ndarray, b: np.ndarray) -> dict[str, dict]:
    s = EF_SETTINGS
    runs = {}
    for name, method, ef in (
        ("none", "none", False),
        ("topk", "topk", False),
        ("topk_ef", "topk", True),
        ("onebit", "onebit", False),
        ("onebit_ef", "onebit", True),
    ):
        runs[name] = train_workers(
            A, b, method, s["lr"], s["steps"], error_feedback=ef, ratio=s["ratio"]
        )
    return runs


def _relative(run: dict) -> float:
    return float(run["distance"][-1] / run["distance"][0])


def _ef_problems(candidate: tuple[np.ndarray, np.ndarray]) -> list[str]:
    A, b = candidate
    flat = A.reshape(-1, A.shape[2])
    if np.linalg.matrix_rank(flat) < A.shape[2]:
        return ["the joint least-squares problem has no unique optimum"]
    runs = _ef_runs(A, b)
    if _relative(runs["none"]) >= PLAIN_REACHED:
        return ["dense SGD does not converge"]
    for name in ("topk", "onebit"):
        if _relative(runs[name]) <= EF_STALLED:
            return [f"{name} without error feedback gets close anyway"]
        if _relative(runs[name + "_ef"]) >= EF_REACHED:
            return [f"{name} with error feedback does not get close"]
    return []


def _dgc_sequence(
    grads: np.ndarray, clip: float, mask: bool = True, correct: bool = True
) -> list[dict]:
    """DGC over a gradient sequence; mask / correct False leave out momentum factor masking /
    momentum correction (the mistakes the lesson is about)."""
    s = DGC_SETTINGS
    n = grads.shape[1]
    u, v = np.zeros(n), np.zeros(n)
    out = []
    for g in grads:
        if mask and correct:
            idx, vals, u, v = dgc_step(g, u, v, s["ratio"], s["momentum"], clip, s["n_workers"])
        else:
            g = clip_by_norm(g, clip / math.sqrt(s["n_workers"]))
            u = s["momentum"] * u + g
            v = v + (u if correct else g)
            idx, vals = topk_compress(v, s["ratio"])
            v = v.copy()
            v[idx] = 0.0
            if mask:
                u = u.copy()
                u[idx] = 0.0
        out.append(
            {"indices": idx.tolist(), "values": vals.tolist(), "u": u.tolist(), "v": v.tolist()}
        )
    return out


def _draw_dgc(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    s = DGC_SETTINGS
    grads = rng.integers(-8, 9, size=(s["steps"], s["n"])) * 0.5
    return grads, float(rng.integers(4, 13))


def _dgc_problems(candidate: tuple[np.ndarray, float]) -> list[str]:
    grads, clip = candidate
    s = DGC_SETTINGS
    norms = np.linalg.norm(grads, axis=1)
    limit = clip / math.sqrt(s["n_workers"])
    if not (np.any(norms > limit * 1.01) and np.any(norms < limit * 0.99)):
        return ["clipping is active on every step or on none"]
    k = topk_count(s["n"], s["ratio"])
    u, v = np.zeros(s["n"]), np.zeros(s["n"])
    for g in grads:
        g = clip_by_norm(g, limit)
        if _topk_gap(v + s["momentum"] * u + g, k) < TOPK_GAP:
            return ["near-tie at DGC's top-k cut"]
        _, _, u, v = dgc_step(g, u, v, s["ratio"], s["momentum"], None, 1)
    ref = _dgc_sequence(grads, clip)
    for mask, correct in ((False, True), (True, False)):
        other = _dgc_sequence(grads, clip, mask, correct)
        if np.allclose(np.array(other[-1]["u"]), ref[-1]["u"]) and np.allclose(
            np.array(other[-1]["v"]), ref[-1]["v"]
        ):
            return ["a DGC mistake leaves the final state unchanged"]
    return []


# ---------------------------------------------------------------- C3
def _recovery_errors(N: int, M: int, s: int, bits: int | None, seed: int) -> list[float]:
    cs = CS_SETTINGS
    return [
        recovery_trial(
            N,
            M,
            s,
            bits,
            np.random.default_rng([seed, M, trial]),
            cs["lam_ratio"],
            cs["ista_steps"],
        )
        for trial in range(cs["trials"])
    ]


def _draw_cs(rng: np.random.Generator) -> tuple[int, int]:
    return int(rng.integers(4, 9)), int(rng.integers(2**31 - 1))


def _cs_problems(candidate: tuple[int, int]) -> list[str]:
    s, seed = candidate
    N = CS_SETTINGS["N"]
    if np.median(_recovery_errors(N, 2 * s, s, None, seed)) <= CS_FAILED:
        return ["recovery at M = 2 s does not fail"]
    if np.median(_recovery_errors(N, CS_SETTINGS["M_succeed"], s, None, seed)) >= CS_RECOVERED:
        return ["recovery at M_succeed does not succeed"]
    return []


def _draw_ista_case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    M, N = ISTA_SETTINGS["M"], ISTA_SETTINGS["N"]
    Phi = np.round(rng.standard_normal((M, N)) / math.sqrt(M), 2)
    x = np.zeros(N, dtype=np.int64)
    x[rng.choice(N, size=2, replace=False)] = rng.choice([-3, -2, -1, 1, 2, 3], size=2)
    return Phi, x


def _draw_quant(rng: np.random.Generator) -> np.ndarray:
    return np.round(rng.uniform(-3, 3, size=8), 2)


def _quant_problems(y: np.ndarray) -> list[str]:
    """No entry may sit (nearly) halfway between two levels: either neighbour would be right."""
    levels = quantizer_levels(QUANT_SETTINGS["bits"], float(np.max(np.abs(y))))
    mids = (levels[1:] + levels[:-1]) / 2
    if np.min(np.abs(y[:, None] - mids[None, :])) < 1e-3:
        return ["an entry lies halfway between two levels"]
    return []


# ---------------------------------------------------------------- C4
def _draw_hook_grads(rng: np.random.Generator) -> np.ndarray:
    s = HOOK_SETTINGS
    return rng.integers(-16, 17, size=(s["steps"], s["world_size"], s["n"])) * 0.25


def _hook_problems(grads: np.ndarray) -> list[str]:
    ratio = HOOK_SETTINGS["ratio"]
    with_ef = simulate_topk_hook(grads, ratio, True)
    without = simulate_topk_hook(grads, ratio, False)
    if min(with_ef["cut_gap"], without["cut_gap"]) < TOPK_GAP:
        return ["near-tie at the hook's top-k cut"]
    if np.allclose(with_ef["averaged"], without["averaged"]):
        return ["error feedback does not change the averaged gradients"]
    return []


# ---------------------------------------------------------------- the variant
def _assemble(vid: str, parts: dict[str, Any]) -> dict:
    A, b = parts["ef"]
    grads, clip = parts["dgc"]
    s, cs_seed = parts["cs"]
    Phi, x = parts["ista"]
    return {
        "assignment": COMPRESS_DISTRIBUTED,
        "variant": vid,
        "c2": {
            "g": np.asarray(parts["g"], dtype=np.float64).tolist(),
            **C2_SETTINGS,
            "ef": {**EF_SETTINGS, "A": A.tolist(), "b": b.tolist()},
            "dgc": {**DGC_SETTINGS, "grads": grads.tolist(), "clip_norm": clip},
            "dgc_epochs": 6,
        },
        "c3": {
            "quantize": {**QUANT_SETTINGS, "y": np.asarray(parts["quant"]).tolist()},
            "ista": {
                **ISTA_SETTINGS,
                "Phi": Phi.tolist(),
                "x_true": x.tolist(),
                "y": np.round(Phi @ x, 12).tolist(),
            },
            "recovery": {**CS_SETTINGS, "s": s, "M_fail": 2 * s, "seed": cs_seed},
            "train": {**QCS_TRAIN_SETTINGS, "seed": parts["qcs_seed"]},
        },
        "c4": {**HOOK_SETTINGS, "grads": np.asarray(parts["hook"]).tolist()},
        "c5": {**HOGWILD_SETTINGS, "seed": parts["hogwild_seed"]},
    }


def compress_distributed_variant(secret: str | None = None, student_id: str | None = None) -> dict:
    """Assignment C's numbers for one student (or the canonical ones), as plain JSON data.

    Keys: "assignment", "variant" (the id) and
    "c2": g (12 entries), ratio, qsgd_s, "ef" (n_workers, rows, dim, lr, steps, ratio, A
      (K, rows, dim) integers, b (K, rows)), "dgc" (ratio, momentum, n_workers, steps, n,
      grads (steps, n), clip_norm), dgc_epochs;
    "c3": "quantize" (bits, y), "ista" (M, N, lam, steps, Phi, x_true, y = Phi x_true),
      "recovery" (N, M_grid, bits, lam_ratio, ista_steps, trials, M_succeed, s, M_fail,
      seed), "train" (the QCS-SGD comparison's settings and seed);
    "c4": world_size, ratio, steps, n, grads (steps, world_size, n);
    "c5": the Hogwild runs' settings and seed.
    """
    vid = variant_id(secret, student_id, COMPRESS_DISTRIBUTED)
    if vid == CANONICAL:
        seed = _CANONICAL_SEED
        parts: dict[str, Any] = {
            "g": np.array(_CANONICAL_G),
            "dgc": (np.array(_CANONICAL_DGC), _CANONICAL_DGC_CLIP),
            "quant": np.array(_CANONICAL_QUANT),
        }
    else:
        seed = int.from_bytes(_digest(secret, student_id, COMPRESS_DISTRIBUTED), "big")
        parts = {
            "g": _accept_first(seed, 1, _draw_g, _g_problems),
            "dgc": _accept_first(seed, 3, _draw_dgc, _dgc_problems),
            "quant": _accept_first(seed, 5, _draw_quant, _quant_problems),
        }
    parts["ef"] = _accept_first(seed, 2, _draw_ef, _ef_problems)
    parts["cs"] = _accept_first(seed, 4, _draw_cs, _cs_problems)
    parts["ista"] = _draw_ista_case(np.random.default_rng([seed, 6]))
    parts["hook"] = _accept_first(seed, 7, _draw_hook_grads, _hook_problems)
    extra = np.random.default_rng([seed, 8]).integers(2**31 - 1, size=2)
    parts["qcs_seed"], parts["hogwild_seed"] = int(extra[0]), int(extra[1])
    return _assemble(vid, parts)


# ---------------------------------------------------------------- the answer key
def _floats(a: Any) -> list:
    """As nested lists of floats rounded to 10 significant digits (-0.0 written as 0.0)."""
    arr = np.asarray(a, dtype=np.float64)
    rounded = (
        np.vectorize(lambda x: float(f"{x:.10g}"), otypes=[np.float64])(arr) if arr.size else arr
    )
    return (rounded + 0.0).tolist()


def _c2_key(c2: dict) -> dict:
    g = np.array(c2["g"], dtype=np.float64)
    ratio, s = c2["ratio"], c2["qsgd_s"]
    idx, vals = topk_compress(g, ratio)
    bits, pos, neg = onebit_compress(g)
    n = g.size
    ef = c2["ef"]
    A, b = np.array(ef["A"], dtype=np.float64), np.array(ef["b"], dtype=np.float64)
    runs = _ef_runs(A, b)
    dgc = c2["dgc"]
    return {
        "topk": {
            "k": topk_count(n, ratio),
            "indices": idx.tolist(),
            "values": _floats(vals),
            "dense": _floats(topk_sparsify(g, ratio)),
        },
        "onebit": {
            "rule": "bit = (g >= 0); + rebuilt as the mean of the entries >= 0, - as the mean "
            "of the entries < 0",
            "bits": bits.tolist(),
            "pos_mean": _floats(pos),
            "neg_mean": _floats(neg),
            "rebuilt": _floats(onebit_quantize(g)),
        },
        "qsgd": {"s": s, "variance_bound": _floats(qsgd_variance_bound(n, s) * float(g @ g))},
        "bytes": {
            "encoding": "float32 values and scales (4 bytes), int32 indices (4 bytes), codes "
            "packed in bits and rounded up to whole bytes",
            "dense": dense_bytes(n),
            "topk": topk_bytes(topk_count(n, ratio)),
            "onebit": onebit_bytes(n),
            "qsgd": qsgd_bytes(n, s),
            "terngrad": terngrad_bytes(n),
        },
        "ef": {
            "w_star": _floats(least_squares_optimum(A, b)),
            "relative_final_distance": {name: _floats(_relative(r)) for name, r in runs.items()},
            "final_loss": {name: _floats(r["loss"][-1]) for name, r in runs.items()},
            "bytes_per_step": {name: r["bytes_per_step"] for name, r in runs.items()},
        },
        "dgc": {
            "steps": [
                {k: (_floats(v) if k != "indices" else v) for k, v in step.items()}
                for step in _dgc_sequence(
                    np.array(dgc["grads"], dtype=np.float64), dgc["clip_norm"]
                )
            ],
            "clip_threshold": _floats(dgc["clip_norm"] / math.sqrt(dgc["n_workers"])),
        },
        "dgc_sparsity": _floats([dgc_sparsity(e) for e in range(c2["dgc_epochs"])]),
    }


def _c3_key(c3: dict) -> dict:
    q = c3["quantize"]
    y = np.array(q["y"], dtype=np.float64)
    ic = c3["ista"]
    Phi = np.array(ic["Phi"], dtype=np.float64)
    y_ista = np.array(ic["y"], dtype=np.float64)
    rec = c3["recovery"]
    table = {}
    for bits in [None, *rec["bits"]]:
        row = {}
        for M in sorted({*rec["M_grid"], rec["M_fail"], rec["M_succeed"]}):
            errors = _recovery_errors(rec["N"], M, rec["s"], bits, rec["seed"])
            row[str(M)] = _floats(np.median(errors))
        table["exact" if bits is None else f"{bits}bit"] = row
    tr = c3["train"]
    data_rng = np.random.default_rng([tr["seed"], 0])
    X, yt, _ = sparse_regression_data(tr["n_samples"], tr["N"], tr["nnz"], data_rng, tr["noise"])
    training = {}
    for method in ("sgd", "terngrad", "qcs"):
        run = train_qcs(
            X, yt, method, tr["n_workers"], tr["lr"], tr["steps"], tr["batch"], tr["M"],
            tr["bits"], tr["lam_ratio"], tr["ista_steps"], np.random.default_rng([tr["seed"], 1]),
        )  # fmt: skip
        training[method] = {
            "final_loss": _floats(run["loss"][-1]),
            "bits_per_step": int(run["bits_per_step"]),
        }
    return {
        "quantize": {
            "R": _floats(np.max(np.abs(y))),
            "levels": _floats(quantizer_levels(q["bits"], float(np.max(np.abs(y))))),
            "output": _floats(uniform_quantize(y, q["bits"])),
        },
        "ista": {
            "L": _floats(lipschitz_constant(Phi)),
            "step": _floats(1.0 / lipschitz_constant(Phi)),
            "x_after": {str(t): _floats(ista(y_ista, Phi, ic["lam"], t)) for t in ic["steps"]},
        },
        "recovery": {
            "statistic": "median relative error over the trials; trial t of M uses "
            "numpy.random.default_rng([seed, M, t]) for Phi, then x",
            "median_error": table,
            "bytes": {str(M): qcs_bytes(M, 8) for M in rec["M_grid"]},
        },
        "train": {
            "note": "one seeded run per method (reference, not a tolerance)",
            **training,
        },
    }


def _c4_key(c4: dict) -> dict:
    grads = np.array(c4["grads"], dtype=np.float64)
    n, ratio = c4["n"], c4["ratio"]
    k = topk_count(n, ratio)
    out = {}
    for name, ef in (("topk_ef", True), ("topk", False)):
        sim = simulate_topk_hook(grads, ratio, ef)
        out[name] = {"averaged": _floats(sim["averaged"]), "bytes_per_step_per_rank": topk_bytes(k)}
    out["allreduce"] = {
        "averaged": _floats(grads.astype(np.float32).mean(axis=1)),
        "bytes_per_step_per_rank": dense_bytes(n),
    }
    out["fp16"] = {"bytes_per_step_per_rank": 2 * n}
    out["terngrad"] = {"bytes_per_step_per_rank": terngrad_bytes(n)}
    return {"k": k, **out}


def compress_distributed_key(variant: dict) -> dict:
    """Every answer of C1-C4 for `variant`, as JSON-serializable data: C1's true/false key,
    C2-C4's numbers (C5's numbers are timings and depend on the machine: the lab reports
    them)."""
    if variant.get("assignment") != COMPRESS_DISTRIBUTED:
        raise ValueError(f"not a {COMPRESS_DISTRIBUTED} variant: {variant.get('assignment')!r}")
    return {
        "assignment": COMPRESS_DISTRIBUTED,
        "variant": variant["variant"],
        "c1": {"true_false": tf_answers(COMPRESS_DISTRIBUTED)},
        "c2": _c2_key(variant["c2"]),
        "c3": _c3_key(variant["c3"]),
        "c4": _c4_key(variant["c4"]),
        "c5": {"settings": {k: v for k, v in variant["c5"].items()}},
    }
