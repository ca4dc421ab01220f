"""The numeric answer key of assignment A (distributed-sparse) for one variant.

`distributed_sparse_key(variant)` runs the reference functions on a variant from
`effdl.variants.distributed_sparse_variant` and collects every number a grader or a TA needs,
as plain JSON data (this is the build's answer_key.json). `format_key` prints it as tables.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from effdl.csc import csc_encode, csc_max_K, csc_size_formula, csc_storage_bits
from effdl.distributed import closed_form, train_distributed
from effdl.sparse_opt import train_sparse
from effdl.truefalse import tf_answers

TERNGRAD_SEEDS = range(200)  # TernGrad runs use np.random.default_rng(seed) for these seeds


def _floats(a: Any) -> list:
    """A numpy array as nested lists of Python floats (with -0.0 written as 0.0)."""
    return (np.asarray(a, dtype=np.float64) + 0.0).tolist()


def _number(x: float) -> int | float:
    """An integral value as an int, anything else as a float."""
    x = float(x)
    return int(x) if x.is_integer() else x


def _a2_key(a2: dict) -> dict:
    X, y = np.array(a2["X"], dtype=np.float64), np.array(a2["y"], dtype=np.float64)
    lr, steps = a2["lr"], a2["steps"]

    def final(**kwargs: Any) -> dict:
        W_hist, losses = train_distributed(X, y, lr=lr, steps=steps, **kwargs)
        return {"W_final": _floats(W_hist[-1]), "losses_final": _floats(losses[-1])}

    def over_seeds(**kwargs: Any) -> dict:
        W_final, losses_final = [], []
        for seed in TERNGRAD_SEEDS:
            rng = np.random.default_rng(seed)
            W_hist, losses = train_distributed(X, y, lr=lr, steps=steps, rng=rng, **kwargs)
            W_final.append(W_hist[-1])
            losses_final.append(losses[-1])
        return {
            "W_final_mean": _floats(np.mean(W_final, axis=0)),
            "W_final_std": _floats(np.std(W_final, axis=0)),
            "losses_final_mean": _floats(np.mean(losses_final, axis=0)),
            "losses_final_std": _floats(np.std(losses_final, axis=0)),
        }

    T = a2["tern_clip_T"]
    return {
        "lr": lr,
        "steps": steps,
        "W_star": _floats(closed_form(X, y)),
        "plain": final(),
        "clip": {str(t): final(clip=t) for t in a2["clip_T"]},
        "terngrad": {
            "seeds": {
                "first": TERNGRAD_SEEDS.start,
                "count": len(TERNGRAD_SEEDS),
                "generator": "numpy.random.default_rng(seed)",
                "std": "population standard deviation (ddof=0) over the seeds",
            },
            "own_scaler": over_seeds(ternary=True),
            "clip_then_scaler_T": {"T": T, **over_seeds(clip=T, ternary=True, scaler=T)},
        },
    }


def _a3_runs(X: np.ndarray, y: np.ndarray, a3: dict) -> dict:
    mu, steps = a3["mu"], a3["steps"]

    def final(method: str, **kwargs: Any) -> dict:
        W_hist, L_hist = train_sparse(X, y, method, mu=mu, steps=steps, **kwargs)
        return {"W_final": _floats(W_hist[-1]), "L_final": float(L_hist[-1])}

    return {
        "gd": final("gd"),
        "prune": final("prune"),
        "l1": {str(lam): final("l1", lam=lam) for lam in a3["l1_lams"]},
        "prox": {str(t): final("prox", threshold=t) for t in a3["prox_ts"]},
        "trimmed": {str(t): final("trimmed", threshold=t) for t in a3["trimmed_ts"]},
        "trimmed_w": {str(t): final("trimmed_w", threshold=t) for t in a3["trimmed_ts"]},
    }


def _a3_key(a3: dict) -> dict:
    X, y = np.array(a3["X"], dtype=np.float64), np.array(a3["y"], dtype=np.float64)
    return {
        "mu": a3["mu"],
        "steps": a3["steps"],
        "truth": list(a3["truth"]),
        "three_points": _a3_runs(X, y, a3),
        "two_points": _a3_runs(X[:2], y[:2], a3),
    }


def _a4_key(a4: dict) -> dict:
    M = np.array(a4["matrix"], dtype=np.float64)
    index_bits, value_bits = a4["index_bits"], a4["value_bits"]
    v, z, p = csc_encode(M, index_bits)
    label_of = {_number(M[r, c]): label for label, (r, c) in a4["labels"].items()}
    storage = {}
    for name, final_pointer in (("final_pointer", True), ("no_final_pointer", False)):
        bits = csc_storage_bits(M, index_bits, value_bits, final_pointer=final_pointer)
        entries = M.shape[1] + 1 if final_pointer else M.shape[1]
        storage[name] = {
            **bits,
            "pointer_entries": entries,
            "pointer_width": bits["pointer"] // entries,
        }
    formula = []
    for M_exp, N_exp in a4["formula_MN"]:
        row: dict[str, Any] = {"M": M_exp, "N": N_exp, "dense": 4 * 2 ** (M_exp + N_exp)}
        for name, final_pointer in (("final_pointer", True), ("no_final_pointer", False)):
            K = csc_max_K(M_exp, N_exp, final_pointer)
            row[name] = {
                "max_K": K,
                "bits_at_max_K": csc_size_formula(M_exp, N_exp, K, final_pointer)
                if K >= 0
                else None,
            }
        formula.append(row)
    return {
        "index_bits": index_bits,
        "value_bits": value_bits,
        "v": [_number(x) for x in v],
        "v_labels": [label_of.get(_number(x), "0") for x in v],
        "z": [int(x) for x in z],
        "p": [int(x) for x in p],
        "storage": storage,
        "formula": {
            "final_pointer": "8*K*2^N + (2^N + 1)*(M + N + 1)",
            "no_final_pointer": "8*K*2^N + 2^N*(M + N)",
            "dense": "4*2^(M + N)",
            "cases": formula,
        },
    }


def distributed_sparse_key(variant: dict) -> dict:
    """Every numeric answer of A1-A4 for `variant`, as JSON-serializable data."""
    if variant.get("assignment") != "distributed-sparse":
        raise ValueError(f"not a distributed-sparse variant: {variant.get('assignment')!r}")
    return {
        "assignment": "distributed-sparse",
        "variant": variant["variant"],
        "tf": tf_answers("distributed-sparse"),
        "a2": _a2_key(variant["a2"]),
        "a3": _a3_key(variant["a3"]),
        "a4": _a4_key(variant["a4"]),
    }


# ---------------------------------------------------------------- plain-text tables
def _vec(values: list, width: int = 9, digits: int = 4) -> str:
    return "[" + ", ".join(f"{x:{width}.{digits}f}" for x in values) + "]"


def _sci(values: list) -> str:
    return "[" + ", ".join(f"{x:9.2e}" for x in values) + "]"


def format_key(key: dict) -> str:
    """The answer key as readable plain-text tables."""
    out = [f"Answer key: {key['assignment']}, variant {key['variant']}", ""]
    out.append("A1 true/false")
    out.append("  " + "  ".join(f"{q} {'T' if a else 'F'}" for q, a in key["tf"].items()))

    a2 = key["a2"]
    out += ["", f"A2 parameter-server SGD (lr {a2['lr']}, {a2['steps']} steps, W_0 = 0)"]
    out.append(f"  W* = X^-1 y = {_vec(a2['W_star'])}")
    out.append(f"  {'run':<22}{'final W':<38}final losses L_i")
    runs = [("plain (averaged)", a2["plain"])]
    runs += [(f"clip T={t}", r) for t, r in a2["clip"].items()]
    for name, r in runs:
        out.append(f"  {name:<22}{_vec(r['W_final']):<38}{_sci(r['losses_final'])}")
    tg = a2["terngrad"]
    seeds = tg["seeds"]
    last = seeds["first"] + seeds["count"] - 1
    out.append(
        f"  TernGrad, mean and std over seeds {seeds['first']}..{last} ({seeds['generator']})"
    )
    tern_runs = [
        ("own scaler", tg["own_scaler"]),
        (f"clip T={tg['clip_then_scaler_T']['T']}, s=T", tg["clip_then_scaler_T"]),
    ]
    for name, r in tern_runs:
        out.append(f"  {name:<22}W mean {_vec(r['W_final_mean'])}  std {_vec(r['W_final_std'])}")
        out.append(
            f"  {'':<22}L mean {_sci(r['losses_final_mean'])}  std {_sci(r['losses_final_std'])}"
        )

    a3 = key["a3"]
    out += ["", f"A3 sparse optimization (mu {a3['mu']}, {a3['steps']} steps, W_0 = 0)"]
    out.append(f"  sparse truth {a3['truth']}")
    for part, title in (("three_points", "3 data points"), ("two_points", "A3.6: 2 data points")):
        runs3 = a3[part]
        out.append(f"  {title}")
        out.append(f"    {'method':<20}{'final W':<68}final L")
        rows = [("gd", runs3["gd"]), ("prune (k=2)", runs3["prune"])]
        rows += [(f"l1 lam={k}", r) for k, r in runs3["l1"].items()]
        rows += [(f"prox t={k}", r) for k, r in runs3["prox"].items()]
        rows += [(f"trimmed t={k}", r) for k, r in runs3["trimmed"].items()]
        rows += [(f"trimmed_w t={k}", r) for k, r in runs3["trimmed_w"].items()]
        for name, r in rows:
            out.append(f"    {name:<20}{_vec(r['W_final'], 11, 8):<68}{r['L_final']:.3e}")

    a4 = key["a4"]
    out += ["", f"A4 CSC encoding ({a4['index_bits']}-bit index, {a4['value_bits']}-bit values)"]
    out.append(f"  v = [{', '.join(a4['v_labels'])}]")
    out.append(f"  v = {a4['v']}")
    out.append(f"  z = {a4['z']}")
    out.append(f"  p = {a4['p']}")
    for name, title in (("final_pointer", "with"), ("no_final_pointer", "without")):
        s = a4["storage"][name]
        out.append(
            f"  {title} the final pointer: values {s['values']} + index {s['index']} + pointer "
            f"{s['pointer']} ({s['pointer_entries']} x {s['pointer_width']} bits) = "
            f"{s['total']} bits; dense {s['dense']}; ratio {s['ratio']:.3f}"
        )
    f = a4["formula"]
    out.append(f"  A4.3 size with final pointer: {f['final_pointer']}")
    out.append(f"       without:                 {f['no_final_pointer']};  dense {f['dense']}")
    for case in f["cases"]:
        fp, nf = case["final_pointer"], case["no_final_pointer"]
        out.append(
            f"    M={case['M']:<3} N={case['N']:<3} dense {case['dense']:>10}   max K with final "
            f"pointer {fp['max_K']} ({fp['bits_at_max_K']} bits), without {nf['max_K']} "
            f"({nf['bits_at_max_K']} bits)"
        )
    return "\n".join(out)
