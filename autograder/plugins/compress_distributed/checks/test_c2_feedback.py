"""Hidden checks for C2: error feedback, clipping, DGC's warm-up and DGC's step.

Error feedback is checked by its invariant (sent + e_new = g + e, and the compressor called
once, on g + e), with compressors the fixture builds (never the student's own); DGC by its
trajectory, each step from the state the student's previous step returned, so that one
wrong step is reported once, where it happens, and a cause is named only when it explains
every step from there to the end. The inputs are drawn for each submission, keeping what
the comparisons rely on: no p = g + e near a rounding boundary of the grid compressor or a
tie at the cut of the keep compressor (float32 students land on the same side), a clipping
threshold that some gradients pass and some do not, DGC accumulators without near-ties at
the top-k cut, ratio * n a whole number for DGC (so that DGC's step is graded on its own,
not on how topk_compress rounds k), and every catalogued mistake giving other numbers.

Conventions accepted: vectors as (n,) or (n, 1), lists, numpy arrays or tensors, float32 or
float64; DGC's indices in any order (values in the same order), any choice among tied |v_i|.
"""

from __future__ import annotations

import math

import numpy as np

from autograder.checking.compare import Mistake, assert_close, close_mask, fmt
from autograder.checking.credit import credit_parts
from autograder.checking.returns import Array, Dict, ListOf, Number, Text, Tuple
from autograder.checking.spec import Call, check
from autograder.checking.sub import Case, Sub
from autograder.checking.trajectory import selections, tie_tol
from autograder.checking.verdict import CheckFailure
from autograder.plugins.compress_distributed.sandbox.fixtures import roundtrip
from effdl import compression as ref

RTOL, ATOL = 1e-5, 1e-7
F32_EPS = float(np.finfo(np.float32).eps)


def _atol(magnitude: np.ndarray, steps: int = 1) -> float:
    """The absolute tolerance of values computed, in float32 or float64, from inputs of at
    most `magnitude` over `steps` steps: 8 float32 roundings of the largest per step (a
    residual p - sent near 0 carries the rounding of p and sent, never a relative error),
    and never below ATOL. A catalogued mistake is at least 0.05 off."""
    scale = float(np.max(np.abs(magnitude))) if np.size(magnitude) else 0.0
    return max(ATOL, 8 * F32_EPS * steps * scale)


MARGIN = 0.02  # how far a drawn p stays from a compressor's rounding boundary or cut
SEEN = ListOf(Array((None,), max_size=10_000), max_length=1000, label="compressor input")


def _ef_returns(shape: tuple[int, ...], n: int, names: tuple[str, str]) -> Dict:
    """What the error-feedback fixtures report: the function's (sent, residual) and the
    vectors it handed the compressor."""
    return Dict({"returned": Tuple(Array(shape), Array((n,)), names=names), "seen": SEEN})


def _clear_of_boundaries(p: np.ndarray, name: str) -> bool:
    """Whether p is at least MARGIN away from where the named compressor jumps: a tie at
    the keep cut, a half step of the grid, zero for the sign compressor."""
    kind, _, arg = name.partition(":")
    if kind == "keep":
        a = np.sort(np.abs(p), axis=-1)[..., ::-1]
        k = int(arg)
        return bool(np.all(a[..., k - 1] - a[..., k] >= MARGIN))
    if kind == "grid":
        h = float(arg)
        frac = np.abs(p / h - np.floor(p / h) - 0.5) * h
        return bool(np.all(frac >= MARGIN))
    if kind == "sign":
        return bool(np.all(np.abs(p) >= MARGIN))
    return True


# --------------------------------------------------------------------------- error feedback
EF_STEP_ROUNDTRIPS = (("keep", "keep:3"), ("grid", "grid:0.5"), ("sign", "sign"))


def draw_ef_step(rng: np.random.Generator, name: str) -> tuple[np.ndarray, np.ndarray]:
    """g (8 entries, 2 decimals) and a residual e without zeros (so that compressing g
    alone, or forgetting e, gives other numbers), p = g + e clear of the compressor's
    boundaries, and something left over to carry (p - sent not 0)."""
    rt = roundtrip(name)
    while True:
        g = np.round(rng.uniform(-2.5, 2.5, 8), 2)
        e = np.round(rng.uniform(0.05, 1.0, 8), 2) * rng.choice([-1.0, 1.0], 8)
        p = g + e
        if _clear_of_boundaries(p, name) and np.max(np.abs(p - rt(p))) >= 0.05:
            return g, e


def ef_step_calls(variant: dict, seed: int) -> list[Call]:
    rng = np.random.default_rng(seed)
    calls = []
    for label, name in EF_STEP_ROUNDTRIPS:
        g, e = draw_ef_step(rng, name)
        calls.append(
            Call(
                f"c2.ef_step.{label}",
                "error_feedback_step",
                kwargs={"g": g, "e": e, "roundtrip": name},
                mode="ef_step",
                returns=_ef_returns((8,), 8, ("sent", "e_new")),
            )
        )
    g, e = draw_ef_step(rng, "scale:0.25")
    calls.append(
        Call(
            "c2.ef_step.column",
            "error_feedback_step",
            kwargs={"g": g.reshape(-1, 1), "e": e.reshape(-1, 1), "roundtrip": "scale:0.25"},
            mode="ef_step",
            returns=_ef_returns((8,), 8, ("sent", "e_new")),
        )
    )
    return calls


@check(
    "c2.error_feedback_step",
    points=4,
    problem="C2.5",
    title="one step of error feedback: its invariant, the compressor on g + e",
    function="error_feedback_step",
    calls=ef_step_calls,
)
def test_error_feedback_step(sub: Sub) -> None:
    def one(case: Case) -> None:
        name = case.kwargs["roundtrip"]
        g, e = (np.asarray(case.kwargs[k], dtype=np.float64).reshape(-1) for k in ("g", "e"))
        what = f"error_feedback_step(g={fmt(g)}, e={fmt(e)}, roundtrip={name!r})"
        out = case.value
        sent, e_new = out["returned"]
        seen = out["seen"]
        p = g + e
        rt = roundtrip(name)
        if len(seen) != 1:
            raise CheckFailure(
                f"{what}: the compressor was called {len(seen)} times; call it once, on "
                "p = g + e, and use that one result for both what is sent and the residual "
                "(a random compressor gives a different result on every call)."
            )
        if seen[0].shape != p.shape or not np.all(close_mask(seen[0], p, RTOL, ATOL)):
            cause = ""
            if seen[0].shape == g.shape and np.allclose(seen[0], g, rtol=RTOL, atol=ATOL):
                cause = "\n  Likely cause: the residual e was not added to g before compressing."
            raise CheckFailure(
                f"{what}: the compressor was given {fmt(seen[0])}; it should compress "
                f"p = g + e = {fmt(p)}.{cause}"
            )
        assert_close(sent, rt(p), rtol=RTOL, atol=ATOL, what=f"{what}: sent = roundtrip(g + e)")
        mistakes = [
            Mistake(
                "the residual is p = g + e itself: what was sent was not subtracted "
                "(e_new = p - sent).",
                lambda: p,
            ),
            Mistake(
                "the old residual was forgotten: e_new = g - sent, but it must be (g + e) - sent.",
                lambda: g - sent,
            ),
            Mistake("the residual's sign is flipped: e_new = sent - p.", lambda: sent - p),
        ]
        got = sent + e_new
        if not np.all(close_mask(got, p, RTOL, _atol(np.abs(g) + np.abs(e)))):
            raise CheckFailure(
                f"{what}: error feedback keeps sent + e_new = g + e, and it does not hold.\n"
                + "\n".join(
                    [
                        f"  g + e:         {fmt(p)}",
                        f"  sent + e_new:  {fmt(got)}",
                        f"  e_new:         {fmt(e_new)}; expected p - sent = {fmt(p - sent)}",
                    ]
                )
                + next(
                    (
                        f"\n  Likely cause: {m.cause}"
                        for m in mistakes
                        if np.allclose(e_new, m.compute(), rtol=RTOL, atol=ATOL)
                    ),
                    "",
                )
            )

    credit_parts(sub.cases(), one)


def _not_carried(grads: np.ndarray, name: str, start: np.ndarray) -> np.ndarray:
    """What a run sends when every step starts from e0 again (the residual not carried)."""
    rt = roundtrip(name)
    return np.stack([rt(g + start) for g in grads])


def draw_ef_run(
    rng: np.random.Generator, name: str, with_e0: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """5 steps of 6 gradients (1 decimal) and e0 (quarters, or none): every step's p clear
    of the compressor's boundaries, and a run that does not carry the residual sends
    otherwise and loses mass (the invariant tells it apart)."""
    rt = roundtrip(name)
    while True:
        grads = np.round(rng.uniform(-2.2, 2.2, size=(5, 6)), 1)
        e0 = rng.integers(-4, 5, size=6) / 4 if with_e0 else None
        start = np.zeros(6) if e0 is None else e0
        e, ps, sent = start.copy(), [], []
        for g in grads:
            ps.append(g + e)
            sent.append(rt(ps[-1]))
            e = ps[-1] - sent[-1]
        lost = _not_carried(grads, name, start)
        mass = lost.sum(axis=0) + (grads[-1] + start - lost[-1]) - grads.sum(axis=0) - start
        if (
            _clear_of_boundaries(np.stack(ps), name)
            and _clear_of_boundaries(grads + start, name)
            and np.max(np.abs(lost - np.stack(sent))) >= 0.05
            and np.max(np.abs(mass)) >= 0.05
        ):
            return grads, e0


def ef_run_calls(variant: dict, seed: int) -> list[Call]:
    rng = np.random.default_rng(seed)
    calls = []
    for label, name, with_e0 in (("zero", "keep:2", False), ("e0", "grid:1.0", True)):
        grads, e0 = draw_ef_run(rng, name, with_e0)
        kwargs = {"grads": grads, "roundtrip": name} | ({"e0": e0} if with_e0 else {})
        calls.append(
            Call(
                f"c2.ef_run.{label}",
                "error_feedback_run",
                kwargs=kwargs,
                mode="ef_run",
                returns=_ef_returns(grads.shape, grads.shape[1], ("sent", "e_final")),
            )
        )
    return calls


@check(
    "c2.error_feedback_run",
    points=3,
    problem="C2.5",
    title="error feedback over several steps: the residual carried along",
    function="error_feedback_run",
    calls=ef_run_calls,
)
def test_error_feedback_run(sub: Sub) -> None:
    def one(case: Case) -> None:
        grads, name = case.kwargs["grads"], case.kwargs["roundtrip"]
        e0 = case.kwargs.get("e0")
        start = np.zeros(grads.shape[1]) if e0 is None else e0
        what = f"error_feedback_run(grads {grads.shape}, roundtrip={name!r}" + (
            ", e0)" if e0 is not None else ")"
        )
        sent, e_final = case.value["returned"]
        rt = roundtrip(name)
        want_sent, want_e = ref.error_feedback_run(grads, rt, start)
        lhs, rhs = sent.sum(axis=0) + e_final, grads.sum(axis=0) + start
        atol = _atol(np.abs(grads).sum(axis=0) + np.abs(start), steps=grads.shape[0])
        if not np.all(close_mask(lhs, rhs, RTOL, atol)):
            cause = ""
            if np.allclose(sent, _not_carried(grads, name, start), rtol=RTOL, atol=ATOL):
                cause = (
                    "\n  Likely cause: the residual was not carried from one step to the next "
                    "(every step started from e0 again)."
                )
            raise CheckFailure(
                f"{what}: over the run, sum(sent) + e_final must equal sum(grads) + e0 "
                "(nothing the compressor drops is lost).\n"
                f"  sum(grads) + e0:       {fmt(rhs)}\n"
                f"  sum(sent) + e_final:   {fmt(lhs)}" + cause
            )
        assert_close(sent, want_sent, rtol=RTOL, atol=atol, what=f"{what}: sent, row t = step t")
        assert_close(e_final, want_e, rtol=RTOL, atol=atol, what=f"{what}: e_final")

    credit_parts(sub.cases(), one)


# --------------------------------------------------------------------------- clipping
# integer vectors whose L2 norm is a whole number: clipping at exactly that norm is exact
WHOLE_NORMS = (
    (1, 2, 2),
    (2, 3, 6),
    (1, 4, 8),
    (4, 4, 7),
    (2, 6, 9),
    (6, 6, 7),
    (3, 4, 12),
    (2, 10, 11),
    (1, 2, 2, 4),
    (2, 2, 4, 5),
    (1, 1, 3, 5),
    (2, 4, 5, 6),
    (1, 2, 4, 10),
)


def draw_clip_cases(rng: np.random.Generator) -> list[tuple[np.ndarray, float]]:
    """A gradient longer than the threshold (scaled down), one shorter (unchanged) and one
    exactly as long (unchanged): integer vectors with whole norms, signs and order drawn,
    times 1/2 or 1."""
    out = []
    for low, high in ((0.3, 0.8), (1.2, 2.0), (1.0, 1.0)):
        base = np.array(WHOLE_NORMS[int(rng.integers(len(WHOLE_NORMS)))], dtype=np.float64)
        c = float(rng.choice([0.5, 1.0]))
        g = c * rng.permutation(base) * rng.choice([-1.0, 1.0], size=base.size)
        norm = c * math.sqrt(float(base @ base))
        t = norm if low == high else round(norm * float(rng.uniform(low, high)), 2)
        out.append((g, t))
    return out


def clip_calls(variant: dict, seed: int) -> list[Call]:
    cases = draw_clip_cases(np.random.default_rng(seed))
    return [
        Call(f"c2.clip.{i}", "clip_by_norm", (g, t), returns=Array((g.size,)))
        for i, (g, t) in enumerate(cases)
    ]


@check(
    "c2.clip_by_norm",
    points=2,
    problem="C2.6",
    title="local gradient clipping by the L2 norm",
    function="clip_by_norm",
    calls=clip_calls,
)
def test_clip_by_norm(sub: Sub) -> None:
    for case in sub.cases():
        g, t = case.args
        norm = float(np.linalg.norm(g))
        assert_close(
            case.value,
            ref.clip_by_norm(g, t),
            rtol=RTOL,
            atol=ATOL,
            what=f"clip_by_norm({fmt(g)}, max_norm={t:g}) (||g||_2 = {norm:g})",
            mistakes=[
                Mistake(
                    "each entry was clipped into [-max_norm, max_norm]; clipping by norm "
                    "scales the whole vector by max_norm / ||g||_2 when it is longer.",
                    lambda g=g, t=t: np.clip(g, -t, t),
                ),
                Mistake(
                    "g was scaled to norm max_norm even though it was shorter; only longer "
                    "gradients are scaled down.",
                    lambda g=g, t=t, norm=norm: g * t / norm,
                ),
            ],
        )


# --------------------------------------------------------------------------- warm-up
def draw_warmup_cases(rng: np.random.Generator) -> list[tuple[int, dict]]:
    """The default schedule's first 7 epochs (the problem states it), and drawn cases: an
    epoch after a drawn warm-up, the last epoch of it, and two whose warm-up value passes a
    drawn final sparsity (the cap binds)."""
    w = int(rng.integers(2, 7))
    f = float(rng.choice([0.9, 0.95, 0.98, 0.99]))
    e_cap = int(rng.integers({0.9: 1, 0.95: 2, 0.98: 2, 0.99: 3}[f], 4))
    w2 = int(rng.integers(4, 7))
    f2 = float(rng.choice([0.9, 0.95]))
    return [(e, {}) for e in range(7)] + [
        (w + int(rng.integers(0, 3)), {"warmup_epochs": w}),
        (w - 1, {"warmup_epochs": w}),
        (e_cap, {"final_sparsity": f}),
        (int(rng.integers(2, w2)), {"warmup_epochs": w2, "final_sparsity": f2}),
    ]


def warmup_calls(variant: dict, seed: int) -> list[Call]:
    cases = draw_warmup_cases(np.random.default_rng(seed))
    return [
        Call(f"c2.warmup.{i}", "dgc_sparsity", (e,), kw, returns=Number())
        for i, (e, kw) in enumerate(cases)
    ]


@check(
    "c2.dgc_sparsity",
    points=2,
    problem="C2.6",
    title="DGC's exponential sparsity warm-up",
    function="dgc_sparsity",
    calls=warmup_calls,
)
def test_dgc_sparsity(sub: Sub) -> None:
    for case in sub.cases():
        (epoch,), kw = case.args, case.kwargs
        final = kw.get("final_sparsity", ref.DGC_FINAL_SPARSITY)
        warmup = kw.get("warmup_epochs", 4)
        what = f"dgc_sparsity({epoch}{''.join(f', {k}={v}' for k, v in kw.items())})"
        assert_close(
            case.value,
            ref.dgc_sparsity(epoch, **kw),
            rtol=1e-9,
            atol=1e-12,
            what=what,
            mistakes=[
                Mistake(
                    "the warm-up is one epoch late: epoch e has density 4^-(e+1), so epoch 0 "
                    "already sends only a quarter (75% sparsity).",
                    lambda e=epoch, f=final, w=warmup: f if e >= w else min(1 - 0.25**e, f),
                ),
                Mistake(
                    "the sparsity was not capped at final_sparsity during the warm-up.",
                    lambda e=epoch, f=final, w=warmup: f if e >= w else 1 - 0.25 ** (e + 1),
                ),
            ],
        )


# --------------------------------------------------------------------------- DGC's step
def _dgc_candidates(
    g: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    spec: dict,
    *,
    correct: bool = True,
    mask: bool = True,
    scale_clip: bool = True,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Every acceptable (indices, values, u_new, v_new) of one step (several on a tie at the
    top-k cut); with correct/mask/scale_clip False, what a known mistake computes."""
    clip = spec["clip_norm"]
    if clip is not None:
        g = ref.clip_by_norm(g, clip / (math.sqrt(spec["n_workers"]) if scale_clip else 1.0))
    u = spec["momentum"] * u + g
    v = v + (u if correct else g)
    k = ref.topk_count(g.size, spec["ratio"])
    out = []
    for chosen in selections(np.abs(v), k, largest=True, tol=tie_tol(v)):
        idx = np.array(chosen, dtype=np.int64)
        u_new, v_new = u.copy(), v.copy()
        v_new[idx] = 0.0
        if mask:
            u_new[idx] = 0.0
        out.append((idx, v[idx], u_new, v_new))
    return out


DGC_CAUSES = (
    (
        "momentum correction is missing: v must accumulate the momentum u (v <- v + u), not "
        "the raw gradient.",
        {"correct": False},
    ),
    (
        "momentum factor masking is missing: zero u (not only v) where an entry was sent.",
        {"mask": False},
    ),
    ("the clipping threshold was not scaled by 1/sqrt(n_workers).", {"scale_clip": False}),
)


def _dgc_run(
    grads: np.ndarray,
    spec: dict,
    choose: str = "abs",
    *,
    correct: bool = True,
    mask: bool = True,
    scale_clip: bool = True,
) -> tuple[np.ndarray, float]:
    """What DGC sends at each step from zero state, (steps, n) dense, and the smallest gap
    between the k-th and (k+1)-th |v| at the cut; or what a mistake sends: the flags of
    _dgc_candidates, or top-k inside it choosing by signed value ("signed"), the first k
    ("first"), or sending |v| ("absolute_values")."""
    n = grads.shape[1]
    k = ref.topk_count(n, spec["ratio"])
    u, v, rows, gap = np.zeros(n), np.zeros(n), [], math.inf
    for g in grads:
        if spec["clip_norm"] is not None:
            scale = math.sqrt(spec["n_workers"]) if scale_clip else 1.0
            g = ref.clip_by_norm(g, spec["clip_norm"] / scale)
        u = spec["momentum"] * u + g
        v = v + (u if correct else g)
        a = np.sort(np.abs(v))[::-1]
        gap = min(gap, float(a[k - 1] - a[k])) if k < n else gap
        if choose == "signed":
            idx = np.argsort(-v, kind="stable")[:k]
        elif choose == "first":
            idx = np.arange(k)
        else:
            idx = np.argsort(-np.abs(v), kind="stable")[:k]
        sent = np.zeros(n)
        sent[idx] = np.abs(v[idx]) if choose == "absolute_values" else v[idx]
        rows.append(sent)
        v = v.copy()
        v[idx] = 0.0
        if mask:
            u = u.copy()
            u[idx] = 0.0
    return np.stack(rows), gap


def draw_dgc_probe(rng: np.random.Generator) -> dict:
    """5 gradients (1 decimal) for 4 workers with a clipping threshold T that some of them
    pass after scaling (T / 2) but not before; ratio * n a whole number; no near-tie at the
    cut; and every catalogued mistake (of DGC's step, and of top-k inside it) sending
    otherwise than DGC."""
    mistakes = [{"choose": c} for c in ("signed", "first", "absolute_values")]
    mistakes += [flags for _, flags in DGC_CAUSES]
    while True:
        n, ratio = ((6, 0.5), (8, 0.25), (8, 0.5))[int(rng.integers(3))]
        grads = np.round(rng.uniform(-2.0, 2.0, size=(5, n)), 1)
        norms = np.linalg.norm(grads, axis=1)
        clip = round(float(np.median(norms)) * float(rng.uniform(1.0, 1.4)), 1)
        if not np.any((norms > 0.55 * clip) & (norms < 0.95 * clip)):
            continue
        spec = {
            "ratio": ratio,
            "momentum": float(rng.choice([0.5, 0.8, 0.9])),
            "clip_norm": clip,
            "n_workers": 4,
        }
        want, gap = _dgc_run(grads, spec)
        if gap < 1e-3:
            continue
        if all(np.max(np.abs(_dgc_run(grads, spec, **m)[0] - want)) >= 1e-3 for m in mistakes):
            return {**spec, "grads": grads}


def _dgc_returns(steps: int, n: int, k: int) -> Dict:
    step = Tuple(
        Array((k,), whole=True), Array((k,)), Array((n,)), Array((n,)),
        names=("indices", "values", "u", "v"),
    )  # fmt: skip
    return Dict({"steps": ListOf(step, max_length=steps, label="step"), "stopped": Text()})


def dgc_calls(variant: dict, seed: int) -> list[Call]:
    d = variant["c2"]["dgc"]
    own = {k: d[k] for k in ("ratio", "momentum", "n_workers", "clip_norm")}
    own["grads"] = np.array(d["grads"], dtype=np.float64)
    probe = draw_dgc_probe(np.random.default_rng(seed))
    calls = []
    for name, spec in (("own", own), ("probe", probe)):
        steps, n = spec["grads"].shape
        k = ref.topk_count(n, spec["ratio"])
        calls.append(
            Call(
                f"c2.dgc.{name}",
                "dgc_step",
                kwargs=spec,
                mode="dgc_run",
                timeout=20,
                returns=_dgc_returns(steps, n, k),
            )
        )
    return calls


def _dgc_step_problem(got: tuple, cands: list, what: str) -> str:
    idx, vals, u_new, v_new = got
    for c_idx, c_vals, c_u, c_v in cands:
        order = np.argsort(idx)
        if np.array_equal(np.sort(idx), c_idx) and all(
            np.all(close_mask(a, b, RTOL, ATOL))
            for a, b in ((vals[order], c_vals), (u_new, c_u), (v_new, c_v))
        ):
            return ""
    c_idx, c_vals, c_u, c_v = cands[0]
    lines = [what]
    if not np.array_equal(np.sort(idx), c_idx):
        lines.append(f"  sent indices: expected {c_idx.tolist()}, got {sorted(idx.tolist())}")
    for label, a, b in (
        ("values", vals[np.argsort(idx)], c_vals),
        ("u", u_new, c_u),
        ("v", v_new, c_v),
    ):
        if a.shape != b.shape or not np.all(close_mask(a, b, RTOL, ATOL)):
            lines.append(f"  {label}: expected {fmt(b)}, got {fmt(a)}")
    return "\n".join(lines)


def _explains(steps: list, grads: np.ndarray, spec: dict, start: int, flags: dict) -> bool:
    """Whether a mistake explains every step the student returned from `start` on, each
    from the student's own state before it."""
    n = grads.shape[1]
    u, v = (np.zeros(n), np.zeros(n)) if start == 0 else (steps[start - 1][2], steps[start - 1][3])
    for t in range(start, len(steps)):
        idx, vals, u_new, v_new = steps[t]
        got = (idx.astype(np.int64), vals, u_new, v_new)
        if _dgc_step_problem(got, _dgc_candidates(grads[t], u, v, spec, **flags), "x"):
            return False
        u, v = u_new, v_new
    return True


@check(
    "c2.dgc_step",
    points=6,
    problem="C2.6",
    title="DGC's step: clipping, momentum correction, top-k, momentum factor masking",
    function="dgc_step",
    calls=dgc_calls,
)
def test_dgc_step(sub: Sub) -> None:
    def one(case: Case) -> None:
        spec = case.kwargs
        grads = np.asarray(spec["grads"], dtype=np.float64)
        n = grads.shape[1]
        k = ref.topk_count(n, spec["ratio"])
        label = (
            f"dgc_step over {grads.shape[0]} gradients (ratio={spec['ratio']:g}, "
            f"momentum={spec['momentum']:g}, clip_norm={spec['clip_norm']}, "
            f"n_workers={spec['n_workers']})"
        )
        out = case.value
        steps = out["steps"]
        u, v = np.zeros(n), np.zeros(n)
        for t, g in enumerate(grads):
            where = f"{label}, step {t + 1} (from u = {fmt(u)}, v = {fmt(v)})"
            if t >= len(steps):
                raise CheckFailure(f"{where}: no result ({out['stopped'] or 'stopped'}).")
            idx, vals, u_new, v_new = steps[t]
            if idx.min() < 0 or idx.max() >= n or np.unique(idx).size != k:
                raise CheckFailure(
                    f"{where}: expected {k} distinct indices in [0, {n}), got {fmt(idx)}."
                )
            got = (idx.astype(np.int64), vals, u_new, v_new)
            problem = _dgc_step_problem(got, _dgc_candidates(g, u, v, spec), where)
            if problem:
                cause = next(
                    (c for c, flags in DGC_CAUSES if _explains(steps, grads, spec, t, flags)),
                    "",
                )
                if cause:
                    problem += f"\n  Likely cause: {cause}"
                if t:
                    problem += f"\n  steps 1..{t} were right."
                raise CheckFailure(problem)
            u, v = u_new, v_new

    credit_parts(sub.cases(), one)
