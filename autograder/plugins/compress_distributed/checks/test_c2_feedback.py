"""Hidden checks for C2: error feedback, clipping, DGC's warm-up and DGC's step.

Error feedback is checked by its invariant (sent + e_new = g + e, and the compressor called
once, on g + e), with compressors the fixture builds (never the student's own); DGC by its
trajectory on fixed gradient sequences, each step from the state the student's previous
step returned, so that one wrong step is reported once, where it happens.
"""

from __future__ import annotations

import math

import numpy as np

from autograder.checking.compare import Mistake, as_array, assert_close, close_mask, fmt
from autograder.checking.credit import credit_parts
from autograder.checking.spec import Call, check
from autograder.checking.sub import Case, Sub, tuple_of
from autograder.checking.trajectory import selections, tie_tol
from autograder.checking.verdict import CheckFailure
from autograder.plugins.compress_distributed.sandbox.fixtures import roundtrip
from effdl import compression as ref

RTOL, ATOL = 1e-5, 1e-7

EF_G = np.array([0.8, -2.1, 0.35, 1.6, -0.4, 0.05, -1.2, 2.7])
EF_E = np.array([-0.3, 0.6, 0.9, -0.1, 0.25, -0.45, 0.0, -0.5])
EF_RUN = np.array(
    [
        [1.2, -0.4, 0.3, 2.0, -1.1, 0.6],
        [-0.5, 1.5, 0.8, -0.2, 0.9, -1.3],
        [0.7, 0.2, -1.6, 0.4, 1.0, 0.1],
        [2.2, -0.9, 0.5, -0.7, -0.3, 1.4],
        [-1.0, 0.6, 1.1, 0.3, -0.8, -0.2],
    ]
)
EF_E0 = np.array([0.5, -0.25, 0.0, 0.75, -0.5, 0.25])
CLIP_CASES = [
    (np.array([3.0, -4.0, 12.0]), 6.5),  # norm 13: scaled by 1/2
    (np.array([0.3, -0.4]), 1.0),  # norm 0.5: unchanged
    (np.array([-2.0, 1.0, 2.0, 0.0]), 3.0),  # norm exactly 3: unchanged
]
DGC_PROBE = {
    "grads": [
        [0.6, -1.4, 0.2, 0.9, -0.3, 1.1],
        [-0.8, 0.5, 1.3, -0.2, 0.7, 0.4],
        [1.5, 0.1, -0.6, 0.8, -1.2, 0.3],
        [0.2, -0.9, 0.4, 1.6, 0.5, -0.7],
        [-0.4, 1.2, 0.9, -0.5, 0.1, 1.0],
    ],
    "ratio": 0.5,
    "momentum": 0.9,
    "clip_norm": None,
    "n_workers": 1,
}


# --------------------------------------------------------------------------- error feedback
def ef_step_calls(variant: dict) -> list[Call]:
    return [
        Call(
            f"c2.ef_step.{name.partition(':')[0]}",
            "error_feedback_step",
            kwargs={"g": EF_G, "e": EF_E, "roundtrip": name},
            mode="ef_step",
        )
        for name in ("keep:3", "grid:0.5", "sign")
    ] + [
        Call(
            "c2.ef_step.column",
            "error_feedback_step",
            kwargs={"g": EF_G.reshape(-1, 1), "e": EF_E.reshape(-1, 1), "roundtrip": "scale:0.25"},
            mode="ef_step",
        )
    ]


def _seen(out: dict, what: str) -> list[np.ndarray]:
    seen = out.get("seen")
    if not isinstance(seen, list):
        raise CheckFailure(f"{what}: the harness did not report the compressor's inputs.")
    return [as_array(p, f"{what}: a compressor input").reshape(-1) for p in seen]


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
        what = f"error_feedback_step(g, e, roundtrip={name!r})"
        out = case.value
        if not isinstance(out, dict):
            raise CheckFailure(f"{what}: unexpected result {type(out).__name__}.")
        sent_raw, e_raw = tuple_of(out.get("returned"), 2, what)
        sent = as_array(sent_raw, f"{what}: sent", g.shape)
        e_new = as_array(e_raw, f"{what}: e_new", g.shape)
        seen = _seen(out, what)
        p = g + e
        rt = roundtrip(name)
        if len(seen) != 1:
            raise CheckFailure(
                f"{what}: the compressor was called {len(seen)} times; call it once, on "
                "p = g + e, and use that one result for both what is sent and the residual "
                "(a random compressor gives a different result on every call)."
            )
        if not np.all(close_mask(seen[0], p, RTOL, ATOL)):
            cause = ""
            if np.allclose(seen[0], g, rtol=RTOL, atol=ATOL):
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
        if not np.all(close_mask(got, p, RTOL, ATOL)):
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


def ef_run_calls(variant: dict) -> list[Call]:
    return [
        Call(
            "c2.ef_run.zero",
            "error_feedback_run",
            kwargs={"grads": EF_RUN, "roundtrip": "keep:2"},
            mode="ef_run",
        ),
        Call(
            "c2.ef_run.e0",
            "error_feedback_run",
            kwargs={"grads": EF_RUN, "roundtrip": "grid:1.0", "e0": EF_E0},
            mode="ef_run",
        ),
    ]


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
        what = f"error_feedback_run(grads (5, 6), roundtrip={name!r}" + (
            ", e0)" if e0 is not None else ")"
        )
        out = case.value
        if not isinstance(out, dict):
            raise CheckFailure(f"{what}: unexpected result {type(out).__name__}.")
        sent_raw, e_raw = tuple_of(out.get("returned"), 2, what)
        sent = as_array(sent_raw, f"{what}: sent", grads.shape)
        e_final = as_array(e_raw, f"{what}: e_final", (grads.shape[1],))
        rt = roundtrip(name)
        want_sent, want_e = ref.error_feedback_run(grads, rt, start)
        lhs, rhs = sent.sum(axis=0) + e_final, grads.sum(axis=0) + start
        if not np.all(close_mask(lhs, rhs, RTOL, ATOL)):
            not_carried = np.stack([rt(g + start) for g in grads])
            cause = ""
            if np.allclose(sent, not_carried, rtol=RTOL, atol=ATOL):
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
        assert_close(sent, want_sent, rtol=RTOL, atol=ATOL, what=f"{what}: sent, row t = step t")
        assert_close(e_final, want_e, rtol=RTOL, atol=ATOL, what=f"{what}: e_final")

    credit_parts(sub.cases(), one)


# --------------------------------------------------------------------------- clipping
def clip_calls(variant: dict) -> list[Call]:
    return [Call(f"c2.clip.{i}", "clip_by_norm", (g, t)) for i, (g, t) in enumerate(CLIP_CASES)]


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
WARMUP_CASES = [(e, {}) for e in range(7)] + [
    (1, {"warmup_epochs": 2}),
    (2, {"warmup_epochs": 2}),
    (3, {"final_sparsity": 0.99}),
    (2, {"warmup_epochs": 5, "final_sparsity": 0.95}),
]


def warmup_calls(variant: dict) -> list[Call]:
    return [
        Call(f"c2.warmup.{i}", "dgc_sparsity", (e,), kw) for i, (e, kw) in enumerate(WARMUP_CASES)
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
                    lambda e=epoch, f=final: min(1 - 0.25**e, f),
                ),
                Mistake(
                    "the sparsity was not capped at final_sparsity during the warm-up.",
                    lambda e=epoch: 1 - 0.25 ** (e + 1),
                ),
            ],
        )


# --------------------------------------------------------------------------- DGC's step
def dgc_calls(variant: dict) -> list[Call]:
    d = variant["c2"]["dgc"]
    own = {k: d[k] for k in ("ratio", "momentum", "n_workers", "clip_norm")}
    own["grads"] = np.array(d["grads"], dtype=np.float64)
    probe = {**DGC_PROBE, "grads": np.array(DGC_PROBE["grads"])}
    return [
        Call("c2.dgc.own", "dgc_step", kwargs=own, mode="dgc_run", timeout=20),
        Call("c2.dgc.probe", "dgc_step", kwargs=probe, mode="dgc_run", timeout=20),
    ]


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
        if not isinstance(out, dict) or not isinstance(out.get("steps"), list):
            raise CheckFailure(f"{label}: unexpected result.")
        steps = out["steps"]
        u, v = np.zeros(n), np.zeros(n)
        for t, g in enumerate(grads):
            where = f"{label}, step {t + 1} (from u = {fmt(u)}, v = {fmt(v)})"
            if t >= len(steps):
                raise CheckFailure(f"{where}: no result ({out.get('stopped') or 'stopped'}).")
            idx_raw, vals_raw, u_raw, v_raw = tuple_of(steps[t], 4, where)
            idx = as_array(idx_raw, f"{where}: indices").reshape(-1)
            if idx.size != k or not np.all(idx == np.round(idx)):
                raise CheckFailure(f"{where}: expected {k} integer indices, got {fmt(idx)}.")
            got = (
                idx.astype(np.int64),
                as_array(vals_raw, f"{where}: values", (k,)),
                as_array(u_raw, f"{where}: u", (n,)),
                as_array(v_raw, f"{where}: v", (n,)),
            )
            problem = _dgc_step_problem(got, _dgc_candidates(g, u, v, spec), where)
            if problem:
                causes = [
                    (
                        "momentum correction is missing: v must accumulate the momentum u "
                        "(v <- v + u), not the raw gradient.",
                        {"correct": False},
                    ),
                    (
                        "momentum factor masking is missing: zero u (not only v) where an "
                        "entry was sent.",
                        {"mask": False},
                    ),
                    (
                        "the clipping threshold was not scaled by 1/sqrt(n_workers).",
                        {"scale_clip": False},
                    ),
                ]
                for cause, flags in causes:
                    if not _dgc_step_problem(got, _dgc_candidates(g, u, v, spec, **flags), ""):
                        problem += f"\n  Likely cause: {cause}"
                        break
                if t:
                    problem += f"\n  steps 1..{t} were right."
                raise CheckFailure(problem)
            u, v = got[2], got[3]

    credit_parts(sub.cases(), one)
