"""Hidden checks for C4: the DDP communication hooks, run in a real gloo process group.

Each call runs the student's hook in a group of 2 or 3 processes inside the sandbox (the
fixture sandbox/process_group.py): DDP hands the hook fixed per-rank gradients, and what
comes back is the gradient every rank ended with after each step and the bytes the hook
counted. Top-k is compared with effdl's simulation of the same hook (float32, no near-ties
at the cut); TernGrad by its laws, decoded from the averages (every combination of the two
ranks' ternary entries gives a different average); the counting hooks by the average and
the payload of their encodings.
"""

from __future__ import annotations

import math

import numpy as np

from autograder.checking.compare import Mistake, as_array, assert_close, close_mask, fmt
from autograder.checking.credit import credit_parts
from autograder.checking.spec import Call, check
from autograder.checking.sub import Case, Sub
from autograder.checking.verdict import CheckFailure
from autograder.plugins.compress_distributed.sandbox.process_group import GROUP_SECONDS
from effdl import compression as ref
from effdl.ddp_hooks import ring_wire_bytes

from .laws import FALSE_FAIL, marginal_problems, pair_problems, rng_problems

RTOL, ATOL = 1e-5, 1e-6
CALL_SECONDS = GROUP_SECONDS + 15  # the group's own deadline comes first
TOPK_PROBE = np.round(np.random.default_rng([7, 246]).uniform(-2, 2, size=(4, 3, 20)), 2)
TOPK_PROBE_RATIO = 0.2  # k = 4 of 20; no near-tie at the cut, by |p| or by signed p
TERN_G = np.array(
    [
        [2.0, -0.5, 1.2, -1.6, 0.3, 0.9, -1.0, 0.7, -0.25, 1.5, -0.8, 0.4],
        [-0.8, 3.2, 1.6, -2.4, 0.5, -1.2, 2.0, -0.4, 1.0, -2.8, 0.7, -1.9],
    ]
)  # scalers 2 and 3.2: the four sums of the ranks' halves differ for every entry
TERN_STEPS, TERN_AGAIN = 400, 50


def _spec(grads: np.ndarray, **kw: object) -> dict:
    return {"grads": np.asarray(grads, dtype=np.float32), "seconds": GROUP_SECONDS, **kw}


def _group(case: Case, what: str) -> dict:
    """The group's result, or a CheckFailure that says how the group went wrong."""
    out = case.value
    if not isinstance(out, dict) or not {"averaged", "bytes", "errors"} <= set(out):
        raise CheckFailure(f"{what}: the process group gave no usable result.")
    grads = case.kwargs["grads"]
    steps, world, n = grads.shape
    averaged = as_array(out["averaged"], f"{what}: averaged", (steps, world, n))
    sent = as_array(out["bytes"], f"{what}: bytes", (steps, world))
    errors = [str(e) for e in out["errors"]] if isinstance(out["errors"], list) else []
    found = [f"  rank {r}: {e}" for r, e in enumerate(errors) if e]
    if errors and all(e.startswith("NotImplementedError") for e in errors):
        raise CheckFailure(
            f"`{case.call.func}` is not implemented yet (it raised NotImplementedError)."
        )
    if found:
        hint = ""
        text = " ".join(errors)
        if "annotation" in text or "'bucket'" in text:
            hint = (
                "\n  Likely cause: DDP checks the hook's signature: its parameters must be "
                "named (state, bucket), annotated dist.GradBucket and "
                "torch.futures.Future[torch.Tensor] or not at all."
            )
        elif "ran out of time" in text:
            hint = (
                f"\n  The group has {GROUP_SECONDS:g} s. Likely cause: the ranks did not all "
                "call the same collectives (one rank waits for the other forever)."
            )
        raise CheckFailure(
            f"{what}: the hook failed in the process group of {world} ranks:\n"
            + "\n".join(found)
            + hint
        )
    if np.isnan(averaged).any():
        t, r = (int(x) for x in np.argwhere(np.isnan(averaged).any(axis=2))[0])
        raise CheckFailure(f"{what}: rank {r} reported no gradient (or NaN) at step {t + 1}.")
    return {"averaged": averaged, "bytes": sent, "world": world, "steps": steps, "n": n}


def _same_on_every_rank(run: dict, what: str) -> None:
    avg = run["averaged"]
    for r in range(1, run["world"]):
        if not np.all(close_mask(avg[:, r], avg[:, 0], RTOL, ATOL)):
            t = int(np.argwhere(~close_mask(avg[:, r], avg[:, 0], RTOL, ATOL).all(axis=1))[0, 0])
            raise CheckFailure(
                f"{what}: after step {t + 1} rank {r} has {fmt(avg[t, r])} but rank 0 has "
                f"{fmt(avg[t, 0])}; DDP keeps the replicas in sync only when every rank gets "
                "the same averaged gradient."
            )


# --------------------------------------------------------------------------- top-k
def _sim_topk(
    G: np.ndarray, ratio: float, ef: bool, by_value: bool = False, subtract: bool = True
) -> np.ndarray:
    """The average every rank gets (float32): effdl's simulation, or a known mistake."""
    if not by_value and subtract:
        return ref.simulate_topk_hook(G, ratio, ef)["averaged"]
    G = np.asarray(G, dtype=np.float32)
    steps, world, n = G.shape
    k = ref.topk_count(n, ratio)
    e = np.zeros((world, n), dtype=np.float32)
    out = np.zeros((steps, n), dtype=np.float32)
    for t in range(steps):
        for r in range(world):
            p = G[t, r] + e[r] if ef else G[t, r].copy()
            idx = np.argsort(-(p if by_value else np.abs(p)), kind="stable")[:k]
            sent = np.zeros(n, dtype=np.float32)
            sent[idx] = p[idx]
            if ef:
                e[r] = p - sent if subtract else p
            out[t] += sent
        out[t] /= np.float32(world)
    return out


def topk_calls(variant: dict) -> list[Call]:
    c4 = variant["c4"]
    G, ratio = np.array(c4["grads"]), float(c4["ratio"])
    run = {"mode": "ddp_hook", "timeout": CALL_SECONDS}
    return [
        Call("c4.topk.ef", "topk_hook", kwargs=_spec(G, ratio=ratio, error_feedback=True), **run),
        Call(
            "c4.topk.noef", "topk_hook", kwargs=_spec(G, ratio=ratio, error_feedback=False), **run
        ),
        Call(
            "c4.topk.three",
            "topk_hook",
            kwargs=_spec(TOPK_PROBE, ratio=TOPK_PROBE_RATIO, error_feedback=True),
            **run,
        ),
    ]


@check(
    "c4.topk_hook",
    points=8,
    problem="C4.1",
    title="top-k hook with error feedback: averages on every rank, bytes",
    function="topk_hook",
    calls=topk_calls,
)
def test_topk_hook(sub: Sub) -> None:
    def one(case: Case) -> None:
        spec = case.kwargs
        G, ratio, ef = spec["grads"], spec["ratio"], spec["error_feedback"]
        steps, world, n = G.shape
        k = ref.topk_count(n, ratio)
        what = (
            f"topk_hook in a group of {world} ranks, {steps} steps of {n} gradients "
            f"(ratio={ratio:g}, error_feedback={ef})"
        )
        run = _group(case, what)
        _same_on_every_rank(run, what)
        want = _sim_topk(G, ratio, ef)
        mistakes = [
            Mistake(
                "the ranks' messages were summed but not divided by the world size; the "
                "hook must return the average.",
                lambda: want * world,
            ),
            Mistake(
                "the result was divided by the world size twice (before and after summing).",
                lambda: want / world,
            ),
            Mistake(
                "error feedback is missing: the residual p - sent must be kept in "
                "state.residuals and added to the next step's gradient.",
                lambda: _sim_topk(G, ratio, False),
            ),
            Mistake(
                "state.error_feedback was ignored: with it False, nothing is carried over.",
                lambda: _sim_topk(G, ratio, True),
            ),
            Mistake(
                "the residual is p itself: what was sent was not subtracted from it.",
                lambda: _sim_topk(G, ratio, ef, subtract=False),
            ),
            Mistake(
                "the k largest signed values were sent; top-k ranks the entries by |p_i|.",
                lambda: _sim_topk(G, ratio, ef, by_value=True),
            ),
        ]
        assert_close(
            run["averaged"][:, 0],
            want,
            rtol=RTOL,
            atol=ATOL,
            what=f"{what}: rank 0's gradient after each step (row t = step t + 1)",
            mistakes=mistakes,
        )
        bytes_mistakes = [
            Mistake(
                "only the k values were counted; the k int32 indices are sent too.", lambda: 4 * k
            ),
            Mistake("int64 indices were sent (or counted): 12 bytes per pair.", lambda: 12 * k),
            Mistake(
                "the whole dense bucket was counted (or sent): top-k sends 8 k bytes.",
                lambda: 4 * n,
            ),
        ]
        got = run["bytes"]
        if not np.all(got == 8 * k):
            cause = next((m.cause for m in bytes_mistakes if np.all(got == m.compute())), "")
            raise CheckFailure(
                f"{what}: each rank should add 8 k = {8 * k} bytes to state.bytes_sent per step "
                f"(k float32 values and k int32 indices), got {got.tolist()} (steps x ranks)."
                + (f"\n  Likely cause: {cause}" if cause else "")
            )

    credit_parts(sub.cases(), one)


# --------------------------------------------------------------------------- TernGrad
def terngrad_calls(variant: dict) -> list[Call]:
    run = {"mode": "ddp_hook", "timeout": CALL_SECONDS}
    many = np.broadcast_to(TERN_G, (TERN_STEPS, *TERN_G.shape))
    few = many[:TERN_AGAIN]
    return [
        Call("c4.tern.a", "terngrad_hook", kwargs=_spec(many, seed=5), **run),
        Call("c4.tern.again", "terngrad_hook", kwargs=_spec(few, seed=5), **run),
        Call("c4.tern.b", "terngrad_hook", kwargs=_spec(many, seed=6), **run),
    ]


def _decode(avg: np.ndarray, what: str) -> np.ndarray:
    """(steps, n) averages -> (steps, 2, n) keep indicators of the two ranks' entries."""
    s = np.abs(TERN_G).max(axis=1)
    half = s[:, None] * np.sign(TERN_G) / 2  # (2, n): what each rank adds when it keeps j
    combos = [(0, 0), (1, 0), (0, 1), (1, 1)]
    cands = np.stack([b0 * half[0] + b1 * half[1] for b0, b1 in combos])  # (4, n)
    tol = 1e-4 * float(s.max())
    match = np.abs(avg[:, None, :] - cands[None]) <= tol  # (steps, 4, n)
    if not match.any(axis=1).all():
        t, j = (int(x) for x in np.argwhere(~match.any(axis=1))[0])
        got = float(avg[t, j])
        allowed = ", ".join(f"{c:.4g}" for c in cands[:, j])
        cause = ""
        shared = float(s.max())
        shared_cands = [
            (b0 * np.sign(TERN_G[0, j]) + b1 * np.sign(TERN_G[1, j])) * shared / 2
            for b0, b1 in combos
        ]
        if any(abs(got - c) <= tol for c in shared_cands):
            cause = (
                "\n  Likely cause: one scaler for all ranks; each rank uses its own "
                "s = max |g| of its bucket and sends it with its codes."
            )
        elif any(abs(got - 2 * c) <= tol for c in cands[:, j]):
            cause = "\n  Likely cause: the ranks' ternary vectors were summed but not averaged."
        elif any(abs(got - c / 2) <= tol for c in cands[:, j]):
            cause = "\n  Likely cause: the result was divided by the world size twice."
        raise CheckFailure(
            f"{what}: after step {t + 1} entry [{j}] is {got:.6g}, which is not an average "
            f"of the ranks' ternary entries s_r sign(g_rj) or 0 (possible: {allowed}; the "
            f"ranks' scalers are {s[0]:g} and {s[1]:g})." + cause
        )
    index = match.argmax(axis=1)  # (steps, n): which combination
    keep = np.array(combos)[index]  # (steps, n, 2)
    return np.transpose(keep, (0, 2, 1)).astype(float)


@check(
    "c4.terngrad_hook",
    points=7,
    problem="C4.1",
    title="TernGrad hook: per-rank scalers, keep-probabilities, independence, the generator",
    function="terngrad_hook",
    calls=terngrad_calls,
)
def test_terngrad_hook(sub: Sub) -> None:
    a, again, b = sub.cases()
    n = TERN_G.shape[1]
    what = "terngrad_hook in a group of 2 ranks (the same gradients every step)"
    runs = [_group(c, what) for c in (a, again, b)]
    for run in runs:
        _same_on_every_rank(run, what)
    keeps = [_decode(run["averaged"][:, 0], what) for run in runs]
    p = np.minimum(np.abs(TERN_G) / np.abs(TERN_G).max(axis=1, keepdims=True), 1.0)
    pooled = np.concatenate([keeps[0], keeps[2]]).reshape(-1, 2 * n)
    freq = pooled.mean(axis=0).reshape(2, n)
    sub.add_plot(
        "C4.1",
        "C4.1 TernGrad hook: how often each entry was kept, against |g_j| / s",
        {f"rank {r}": freq[r] for r in range(2)},
        {f"rank {r}": p[r] for r in range(2)},
        x_label="entry j of the bucket",
    )
    labels = [f"rank {r} keeping entry [{j}]" for r in range(2) for j in range(n)]
    # two law tests, FALSE_FAIL / 2 each; two correct runs of 50 steps (22 random entries a
    # step) coincide with probability below 0.85^1100
    problems = marginal_problems(pooled, p.reshape(-1), FALSE_FAIL / 2, labels, what)
    if not problems:
        problems = pair_problems(pooled, p.reshape(-1), FALSE_FAIL / 2, labels, what)
    problems += rng_problems(
        keeps[0], keeps[1], keeps[2], f"{what} (generators seeded by state.generator)"
    )
    want = 4 + math.ceil(n / 4)
    for label, run in zip(("seed 5", "seed 5 again", "seed 6"), runs, strict=True):
        got = run["bytes"]
        if not np.all(got == want):
            cause = ""
            if np.all(got == 4 + n):
                cause = " Likely cause: one byte per code; pack four 2-bit codes into a byte."
            elif np.all(got == 4 + 4 * n):
                cause = " Likely cause: the codes were sent as float32."
            problems.append(
                f"{what} ({label}): each rank should add 4 + ceil(n / 4) = {want} bytes per "
                f"step (the float32 scaler and n 2-bit codes), got {np.unique(got).tolist()}."
                + cause
            )
            break
    if problems:
        raise CheckFailure("\n".join(problems))


# --------------------------------------------------------------------------- counted hooks
def counted_calls(variant: dict) -> list[Call]:
    G = np.array(variant["c4"]["grads"])
    run = {"mode": "ddp_hook", "timeout": CALL_SECONDS}
    return [
        Call("c4.count.allreduce", "allreduce_counted_hook", kwargs=_spec(G), **run),
        Call("c4.count.fp16", "fp16_counted_hook", kwargs=_spec(G), **run),
        Call("c4.count.three", "allreduce_counted_hook", kwargs=_spec(TOPK_PROBE[:2]), **run),
    ]


@check(
    "c4.counted_hooks",
    points=4,
    problem="C4.1",
    title="all-reduce and fp16 hooks: the average, and the bytes they count",
    function="allreduce_counted_hook",
    calls=counted_calls,
)
def test_counted_hooks(sub: Sub) -> None:
    def one(case: Case) -> None:
        name = case.call.func
        fp16 = name.startswith("fp16")
        G = case.kwargs["grads"]
        steps, world, n = G.shape
        what = f"{name} in a group of {world} ranks"
        run = _group(case, what)
        _same_on_every_rank(run, what)
        want = G.astype(np.float64).mean(axis=1)
        assert_close(
            run["averaged"][:, 0],
            want,
            rtol=2e-3 if fp16 else RTOL,
            atol=2e-3 if fp16 else ATOL,
            what=f"{what}: the gradient after each step (the mean over the ranks)",
            mistakes=[
                Mistake(
                    "the gradients were summed but not divided by the world size.",
                    lambda: want * world,
                ),
                Mistake(
                    "the gradients were divided by the world size twice.", lambda: want / world
                ),
            ],
        )
        per = 2 * n if fp16 else 4 * n
        got = run["bytes"]
        if not np.all(got == per):
            other = 4 * n if fp16 else 2 * n
            raise CheckFailure(
                f"{what}: each rank should count {per} bytes per step ({'2' if fp16 else '4'} "
                f"bytes for each of the bucket's {n} entries), got {np.unique(got).tolist()}."
                + (
                    f"\n  Likely cause: {'float32' if fp16 else 'float16'} sizes were counted."
                    if np.all(got == other)
                    else ""
                )
            )

    credit_parts(sub.cases(), one)


# --------------------------------------------------------------------------- wire bytes
RING_CASES = [
    (1000.0, 2, "allreduce"),
    (1000.0, 4, "allreduce"),
    (38440.0, 8, "allreduce"),
    (80.0, 4, "allgather"),
    (500.0, 1, "allgather"),
]


def ring_calls(variant: dict) -> list[Call]:
    return [Call(f"c4.ring.{i}", "ring_wire_bytes", case) for i, case in enumerate(RING_CASES)]


@check(
    "c4.ring_wire_bytes",
    points=2,
    problem="C4.2",
    title="bytes on the wire per rank: ring all-reduce and all-gather",
    function="ring_wire_bytes",
    calls=ring_calls,
)
def test_ring_wire_bytes(sub: Sub) -> None:
    for case in sub.cases():
        payload, K, collective = case.args
        assert_close(
            case.value,
            ring_wire_bytes(payload, K, collective),
            rtol=1e-9,
            atol=1e-9,
            what=f"ring_wire_bytes({payload:g}, {K}, {collective!r})",
            mistakes=[
                Mistake(
                    "an all-gather passes each of the other K - 1 ranks' messages on, not K.",
                    lambda p=payload, K=K: float(K * p),
                ),
                Mistake(
                    "a ring all-reduce is a reduce-scatter AND an all-gather: 2 (K - 1) / K "
                    "payloads, not (K - 1) / K.",
                    lambda p=payload, K=K: (K - 1) / K * p,
                ),
                Mistake(
                    "the all-reduce cost was taken as 2 payloads for any K; it is 2 (K - 1) / K.",
                    lambda p=payload: 2.0 * p,
                ),
            ],
        )
