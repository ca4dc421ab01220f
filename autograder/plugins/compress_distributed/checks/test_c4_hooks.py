"""Hidden checks for C4: the DDP communication hooks, run in a real gloo process group.

Each call runs the student's hook in a group of 2 or 3 processes inside the sandbox (the
fixture sandbox/process_group.py): DDP hands the hook fixed per-rank gradients, and what
comes back is the gradient every rank ended with after each step and the bytes the hook
counted. Top-k is compared with effdl's simulation of the same hook (float32); TernGrad by
its laws, decoded from the averages (each entry's keep-frequency, pairs of entries, and a
bias shared by all entries, pooled over ~94,000 keeps), and by its use of state.generator
(the same seed repeats the codes although torch's global generator was seeded otherwise;
another seed, torch's generator seeded the same, changes them); the counting hooks by the
average and the payload of their encodings, and the fp16 hook's average by being a float16
result (the exact float32 mean of 3-decimal gradients almost never is).

The hidden gradients are drawn for each submission (from its seed), keeping what the checks
rely on: for top-k no near-tie at the cut (by |p|, and by signed p for the mistake a cause is
named for), with and without error feedback, and every catalogued mistake giving other
averages; for TernGrad one entry per rank at its scaler (kept for sure), the others kept
with probabilities in [0.1, 0.9], scalers at least 4/3 apart, averages that decode into the
ranks' codes uniquely, and each catalogued mistake's averages leaving that set within 400
steps with probability above 1 - 1e-12.

Conventions accepted: the hook may compute in float32 or float64, gather values and
indices in one message or two, keep residuals per parameter or per bucket, and draw its
codes in any way from state.generator; the fp16 hook may divide by the world size before
the float16 all-reduce or after it (in float16, float32 or float64).

The gradients are private inputs of the calls (Call.private): rank r's process only ever
holds G[:, r], so a hook learns the other ranks' gradients only by communicating. None of
them is the notebook's: the variant's G4, which the student has, is moved by a hidden
amount per submission (hidden_like), so a hook that carries the public numbers and
recognises its own bucket learns nothing about the other rank's.
"""

from __future__ import annotations

import math

import numpy as np

from autograder.checking.compare import Mistake, assert_close, close_mask, fmt
from autograder.checking.credit import credit_parts
from autograder.checking.returns import Array, Dict, Flag, ListOf, Number, Text
from autograder.checking.spec import Call, check
from autograder.checking.stats import pooled_bias
from autograder.checking.sub import Case, Sub
from autograder.checking.verdict import CheckFailure
from autograder.plugins.compress_distributed.sandbox.process_group import GROUP_SECONDS
from effdl import compression as ref
from effdl.ddp_hooks import ring_wire_bytes

from .laws import (
    FALSE_FAIL,
    follows,
    marginal_problems,
    pair_problems,
    repeat_problems,
    rng_problems,
)

RTOL, ATOL = 1e-5, 1e-6
CALL_SECONDS = GROUP_SECONDS + 15  # the group's own deadline comes first
TOPK_PROBE_SHAPE = (4, 3, 22)  # steps, ranks, entries
TOPK_PROBE_RATIO = 0.2  # k = ceil(4.4) = 5 of 22: a k of floor(ratio n) sends 4
CUT_GAP = 0.002  # the smallest gap at the top-k cut of a drawn probe (3-decimal entries)
TERN_STEPS, TERN_AGAIN = 400, 50
# the wide run's steps and entries per rank: the birthday test, and with runs a and b the
# pooled bias test (300 x 254 random keeps: a bias of 0.02 shared by the entries is caught)
TERN_WIDE_STEPS, TERN_WIDE_N = 300, 128
# (state.generator's seed, seed of the call's global generators)
TERN_SEEDS = {"a": (5, 905), "again": (5, 906), "b": (6, 905), "wide": (7, 907)}


def _spec(grads: np.ndarray, **kw: object) -> dict:
    return {"grads": np.asarray(grads, dtype=np.float32), "seconds": GROUP_SECONDS, **kw}


def _group_returns(grads: np.ndarray) -> Dict:
    """What the process-group fixture reports: the gradient each rank ended each step with
    (NaN where a rank gave none), the bytes each rank counted, each rank's error."""
    steps, world, n = grads.shape
    return Dict(
        {
            "averaged": Array((steps, world, n)),
            "bytes": Array((steps, world), whole=True),
            "errors": ListOf(Text(max_length=600), length=world, label="rank"),
            "timed_out": Flag(),
        }
    )


def _hook_call(call_id: str, func: str, spec: dict, seed: int | None = None) -> Call:
    return Call(
        call_id,
        func,
        kwargs=spec,
        mode="ddp_hook",
        timeout=CALL_SECONDS,
        seed=seed,
        returns=_group_returns(spec["grads"]),
        private=("grads", 1),  # rank r's process only ever holds G[:, r]
    )


def _group(case: Case, what: str) -> dict:
    """The group's result, or a CheckFailure that says how the group went wrong."""
    out = case.value
    grads = case.kwargs["grads"]
    steps, world, n = grads.shape
    averaged, sent, errors = out["averaged"], out["bytes"], out["errors"]
    found = [f"  rank {r}: {e}" for r, e in enumerate(errors) if e]
    if errors and all(e.startswith("NotImplementedError") for e in errors):
        raise CheckFailure(
            f"`{case.call.func}` is not implemented yet (it raised NotImplementedError)."
        )
    if found:
        hint = ""
        text = " ".join(errors)
        if "Communication hook" in text or "KeyError: 'bucket'" in text:
            hint = (
                "\n  Likely cause: DDP checks the hook's signature (this is its error): its "
                "parameters must be named (state, bucket), annotated dist.GradBucket and "
                "torch.futures.Future[torch.Tensor] or not at all."
            )
        elif "ran out of time" in text:
            hint = (
                f"\n  The group has {GROUP_SECONDS:g} s. Note: a rank that waits in a "
                "collective its peers never join (another collective, or one more of them) "
                "keeps the group waiting until then."
            )
        raise CheckFailure(
            f"{what}: the hook failed in the process group of {world} ranks:\n"
            + "\n".join(found)
            + hint
        )
    if np.isnan(averaged).any():
        t, r = (int(x) for x in np.argwhere(np.isnan(averaged).any(axis=2))[0])
        raise CheckFailure(f"{what}: rank {r} reported no gradient (or NaN) at step {t + 1}.")
    if (sent < 0).any():
        t, r = (int(x) for x in np.argwhere(sent < 0)[0])
        raise CheckFailure(
            f"{what}: at step {t + 1} rank {r} added {int(sent[t, r])} to state.bytes_sent "
            "(or a count that is not a whole number below 2**63); a hook adds the bytes it "
            "sent."
        )
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
    G: np.ndarray,
    ratio: float,
    ef: bool,
    by_value: bool = False,
    subtract: bool = True,
    k: int | None = None,
) -> tuple[np.ndarray, float]:
    """The average every rank gets (float32), by effdl's rule or a known mistake's (another
    k among them), and the smallest gap at the cut of the ranking it uses (|p|, or p
    by_value)."""
    G = np.asarray(G, dtype=np.float32)
    steps, world, n = G.shape
    k = ref.topk_count(n, ratio) if k is None else k
    e = np.zeros((world, n), dtype=np.float32)
    out = np.zeros((steps, n), dtype=np.float32)
    gap = math.inf
    for t in range(steps):
        for r in range(world):
            p = G[t, r] + e[r] if ef else G[t, r].copy()
            key = p if by_value else np.abs(p)
            ordered = np.sort(key.astype(np.float64))[::-1]
            gap = min(gap, float(ordered[k - 1] - ordered[k])) if k < n else gap
            idx = np.argsort(-key, kind="stable")[:k]
            sent = np.zeros(n, dtype=np.float32)
            sent[idx] = p[idx]
            if ef:
                e[r] = p - sent if subtract else p
            out[t] += sent
        out[t] /= np.float32(world)
    return out, gap


def _topk_mistakes(G: np.ndarray, ratio: float, ef: bool, want: np.ndarray) -> list[Mistake]:
    world = G.shape[1]
    out = [
        Mistake(
            "the ranks' messages were summed but not divided by the world size; the hook must "
            "return the average.",
            lambda: want * world,
        ),
        Mistake(
            "the result was divided by the world size twice (before and after summing).",
            lambda: want / world,
        ),
        Mistake(
            "error feedback is missing: the residual p - sent must be kept in "
            "state.residuals and added to the next step's gradient.",
            lambda: _sim_topk(G, ratio, False)[0],
        ),
        Mistake(
            "the residual is p itself: what was sent was not subtracted from it.",
            lambda: _sim_topk(G, ratio, ef, subtract=False)[0],
        ),
        Mistake(
            "the k largest signed values were sent; top-k ranks the entries by |p_i|.",
            lambda: _sim_topk(G, ratio, ef, by_value=True)[0],
        ),
    ]
    n = G.shape[2]
    k, floor_k = ref.topk_count(n, ratio), max(1, math.floor(round(ratio * n, 9)))
    if floor_k != k:
        out.append(
            Mistake(
                f"k = floor(ratio * n) = {floor_k} entries were sent; top-k sends k = "
                f"ceil(ratio * n) = {k} (topk_count).",
                lambda: _sim_topk(G, ratio, ef, k=floor_k)[0],
            )
        )
    if not ef:
        out.append(
            Mistake(
                "state.error_feedback was ignored: with it False, nothing is carried over.",
                lambda: _sim_topk(G, ratio, True)[0],
            )
        )
    return out


def topk_usable(G: np.ndarray, ratio: float) -> bool:
    """Whether top-k gradients G keep what the check relies on: a gap of at least CUT_GAP at
    the cut of every ranking a check or a cause uses (|p| with and without error feedback,
    signed p with it), and every catalogued mistake giving averages at least 1e-3 away:
    all of them with error feedback; without it, those that are mistakes there (without
    error feedback, dropping or keeping the residual changes nothing)."""
    gaps = [_sim_topk(G, ratio, ef)[1] for ef in (True, False)]
    gaps.append(_sim_topk(G, ratio, True, by_value=True)[1])
    if min(gaps) < CUT_GAP:
        return False
    for ef in (True, False):
        want = _sim_topk(G, ratio, ef)[0]
        for mistake in _topk_mistakes(G, ratio, ef, want):
            got = mistake.compute()
            if not ef and np.array_equal(got, want):
                continue
            if np.max(np.abs(got - want)) < 1e-3:
                return False
    return True


def draw_topk_probe(rng: np.random.Generator) -> np.ndarray:
    """(4, 3, 22) gradients in [-2, 2] (3 decimals) that are topk_usable."""
    while True:
        G = np.round(rng.uniform(-2.0, 2.0, size=TOPK_PROBE_SHAPE), 3)
        if topk_usable(G, TOPK_PROBE_RATIO):
            return G


HIDDEN_SHIFT = 0.25  # the variant's gradients move by up to this much per entry


def hidden_like(G: np.ndarray, rng: np.random.Generator, ratio: float | None = None) -> np.ndarray:
    """The variant's gradients G moved by a hidden amount: each entry by a draw from
    U(-HIDDEN_SHIFT, HIDDEN_SHIFT), rounded to 3 decimals, drawn again until topk_usable
    at `ratio` (when given). The numbers stay the student's own in size and sign pattern,
    but no rank can tell another's from the notebook's."""
    G = np.asarray(G, dtype=np.float64)
    while True:
        moved = np.round(G + rng.uniform(-HIDDEN_SHIFT, HIDDEN_SHIFT, size=G.shape), 3)
        if ratio is None or topk_usable(moved, ratio):
            return moved


def topk_calls(variant: dict, seed: int) -> list[Call]:
    c4 = variant["c4"]
    ratio = float(c4["ratio"])
    probe = draw_topk_probe(np.random.default_rng(seed))
    G = hidden_like(np.array(c4["grads"]), np.random.default_rng([seed, 4]), ratio)
    return [
        _hook_call("c4.topk.ef", "topk_hook", _spec(G, ratio=ratio, error_feedback=True)),
        _hook_call("c4.topk.noef", "topk_hook", _spec(G, ratio=ratio, error_feedback=False)),
        _hook_call(
            "c4.topk.three",
            "topk_hook",
            _spec(probe, ratio=TOPK_PROBE_RATIO, error_feedback=True),
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
        want = _sim_topk(G, ratio, ef)[0]
        assert_close(
            run["averaged"][:, 0],
            want,
            rtol=RTOL,
            atol=ATOL,
            what=f"{what}: rank 0's gradient after each step (row t = step t + 1)",
            mistakes=_topk_mistakes(G, ratio, ef, want),
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
                f"(k float32 values and k int32 indices), got {got.astype(int).tolist()} "
                "(steps x ranks)." + (f"\n  Likely cause: {cause}" if cause else "")
            )

    credit_parts(sub.cases(), one)


# --------------------------------------------------------------------------- TernGrad
COMBOS = np.array([(0, 0), (1, 0), (0, 1), (1, 1)], dtype=np.float64)  # (rank 0, rank 1) keeps


def _halves(G: np.ndarray, shared: bool = False) -> np.ndarray:
    """(2, n): what each rank adds to the average when it keeps entry j, s_r sign(g_rj) / 2
    (or with one scaler, the larger, for both ranks)."""
    s = np.abs(G).max(axis=1, keepdims=True)
    if shared:
        s = np.full_like(s, s.max())
    return s * np.sign(G) / 2


def _candidates(G: np.ndarray, law: str = "correct") -> np.ndarray:
    """(4, n): the average of each combination of the ranks' keeps, by TernGrad's rule or a
    mistake's ("summed", "halved": divided by the world size twice, "shared": one scaler)."""
    half = _halves(G, shared=law == "shared")
    cands = COMBOS @ half
    return {"summed": 2 * cands, "halved": cands / 2}.get(law, cands)


def _keep_probabilities(G: np.ndarray, law: str = "correct") -> np.ndarray:
    s = np.abs(G).max(axis=1, keepdims=True)
    if law == "shared":
        s = np.full_like(s, s.max())
    return np.minimum(np.abs(G) / s, 1.0)


def _escape_chance(G: np.ndarray, law: str, tol: float) -> float:
    """The probability that in one step some entry of a mistake's average lies outside
    TernGrad's set of possible averages (more than tol from each), under the mistake's law."""
    right = _candidates(G)
    wrong = _candidates(G, law)
    outside = np.all(np.abs(wrong[:, None, :] - right[None, :, :]) > tol, axis=1)  # (4, n)
    p = _keep_probabilities(G, law)
    prob = np.stack([(p[0] if b0 else 1 - p[0]) * (p[1] if b1 else 1 - p[1]) for b0, b1 in COMBOS])
    q = np.sum(np.where(outside, prob, 0.0), axis=0)  # (n,)
    return 1.0 - float(np.prod(1.0 - q))


def draw_terngrad_hook(rng: np.random.Generator) -> np.ndarray:
    """(2, 12) gradients (2 decimals): rank r has one entry at its scaler s_r, the others
    kept with probabilities in [0.1, 0.9]; the scalers at least 4/3 apart; the four possible
    averages of every entry at least 0.1 apart (the averages decode uniquely); and every
    catalogued mistake leaving that set within TERN_STEPS steps with probability above
    1 - 1e-12."""
    while True:
        s = rng.choice([1.5, 2.0, 2.5, 3.0, 3.5, 4.0], size=2, replace=False)
        if max(s) / min(s) < 4 / 3:
            continue
        G = np.zeros((2, 12))
        for r in range(2):
            mags = np.round(rng.uniform(0.1, 0.9, 12) * s[r], 2)
            mags[int(rng.integers(12))] = s[r]
            G[r] = mags * rng.choice([-1.0, 1.0], 12)
        p = np.abs(G) / np.abs(G).max(axis=1, keepdims=True)
        if np.any((p < 0.1) | ((p > 0.9) & (p < 1.0))):
            continue
        cands = _candidates(G)
        gaps = np.abs(cands[:, None, :] - cands[None, :, :])[~np.eye(4, dtype=bool)]
        if gaps.min() <= 0.1:
            continue
        if all(
            (1 - _escape_chance(G, law, 0.05)) ** TERN_STEPS < 1e-12
            for law in ("summed", "halved", "shared")
        ):
            return G


def draw_terngrad_wide(rng: np.random.Generator) -> np.ndarray:
    """(2, TERN_WIDE_N) gradients for the birthday and pooled bias tests: scalers 2 and 3
    (so the four possible averages of every entry are at least 0.5 apart), one entry of each
    rank at its scaler and the others kept with probabilities in [0.1, 0.9], so two
    independent steps agree on all their random keeps with probability below
    0.82^254 < 2e-22."""
    G = np.zeros((2, TERN_WIDE_N))
    for r, s in enumerate((2.0, 3.0)):
        mags = np.round(rng.uniform(0.1, 0.9, TERN_WIDE_N) * s, 2)
        mags = np.clip(mags, 0.1 * s, 0.9 * s)
        mags[int(rng.integers(TERN_WIDE_N))] = s
        G[r] = mags * rng.choice([-1.0, 1.0], TERN_WIDE_N)
    return G


def terngrad_calls(variant: dict, seed: int) -> list[Call]:
    rng = np.random.default_rng(seed)
    G = draw_terngrad_hook(rng)
    many = np.broadcast_to(G, (TERN_STEPS, *G.shape))
    out = []
    for name, steps in (("a", TERN_STEPS), ("again", TERN_AGAIN), ("b", TERN_STEPS)):
        generator, glob = TERN_SEEDS[name]
        spec = _spec(many[:steps], seed=generator)
        out.append(_hook_call(f"c4.tern.{name}", "terngrad_hook", spec, seed=glob))
    wide = np.broadcast_to(draw_terngrad_wide(rng), (TERN_WIDE_STEPS, 2, TERN_WIDE_N))
    generator, glob = TERN_SEEDS["wide"]
    out.append(_hook_call("c4.tern.wide", "terngrad_hook", _spec(wide, seed=generator), glob))
    return out


TERN_CAUSES = (
    (
        "shared",
        "one scaler for all ranks (every average is one of those the largest scaler gives "
        "both ranks); each rank uses its own s = max |g| of its bucket and sends it with its "
        "codes.",
    ),
    ("summed", "the ranks' ternary vectors were summed but not averaged."),
    ("halved", "the result was divided by the world size twice."),
)


def _decode(avg: np.ndarray, G: np.ndarray, what: str) -> np.ndarray:
    """(steps, n) averages -> (steps, 2, n) keep indicators of the two ranks' entries."""
    s = np.abs(G).max(axis=1)
    tol = 1e-4 * float(s.max())

    def fits(cands: np.ndarray) -> np.ndarray:
        return np.abs(avg[:, None, :] - cands[None]) <= tol  # (steps, 4, n)

    match = fits(_candidates(G))
    if not match.any(axis=1).all():
        t, j = (int(x) for x in np.argwhere(~match.any(axis=1))[0])
        allowed = ", ".join(f"{c:.4g}" for c in _candidates(G)[:, j])
        cause = next(
            (c for law, c in TERN_CAUSES if fits(_candidates(G, law)).any(axis=1).all()), ""
        )
        raise CheckFailure(
            f"{what}: after step {t + 1} entry [{j}] is {float(avg[t, j]):.6g}, which is not an "
            f"average of the ranks' ternary entries s_r sign(g_rj) or 0 (possible: {allowed}; "
            f"the ranks' scalers are {s[0]:g} and {s[1]:g})."
            + (f"\n  Likely cause: {cause}" if cause else "")
        )
    keep = COMBOS[match.argmax(axis=1)]  # (steps, n, 2)
    return np.transpose(keep, (0, 2, 1))


def _same_uniforms(hits: np.ndarray, p: np.ndarray, n: int) -> bool:
    """Whether, entry by entry, the rank with the larger keep-probability kept whenever the
    other did: what one uniform per entry shared by the ranks gives."""
    h = hits.reshape(-1, 2, n)
    q = p.reshape(2, n)
    first = q[0] <= q[1]  # rank 0's probability is the smaller: its keeps imply rank 1's
    small = np.where(first, h[:, 0], h[:, 1])
    large = np.where(first, h[:, 1], h[:, 0])
    return bool(np.all(large >= small))


def _bias_problems(runs: list[tuple[np.ndarray, np.ndarray]]) -> list[str]:
    """The pooled bias test (stats.pooled_bias, false-fail probability <= FALSE_FAIL / 4) on
    every random keep of the runs together: runs holds (keeps (steps, m), their
    probabilities (m,)). A shift of every keep-probability by 0.02 is too small for the
    frequency test of each entry, but the ~94,000 keeps pooled see it."""
    hits = np.concatenate([np.asarray(k, dtype=float).reshape(-1) for k, _ in runs])
    probs = np.concatenate([np.tile(q, len(k)) for k, q in runs])
    found = pooled_bias(hits[None, :], probs, FALSE_FAIL / 4)
    if found is None:
        return []
    v, count, expected, hi = found["v"], found["count"], found["expected"], found["hi"]
    side = "more" if count > expected else "less"
    return [
        f"terngrad_hook's keep-probabilities are biased: over every step of three runs "
        f"(two ranks, the same gradients each step), the {v} random entries whose "
        f"probability |g_j| / s lies in [{found['lo']:g}, {hi:g}{']' if hi == 1 else ')'} "
        f"were kept {count:.0f} times (frequency {count / v:.4f}), {side} often than their "
        f"probabilities give: {expected:.0f} +- {found['t']:.0f} (average probability "
        f"{expected / v:.4f}; Hoeffding bound, false-fail probability < {FALSE_FAIL / 4:.1g}). "
        "Each entry must be kept with probability exactly |g_j| / s (its sign times s, "
        "else 0), so that the average is an unbiased estimate of the mean gradient."
    ]


@check(
    "c4.terngrad_hook",
    points=7,
    problem="C4.1",
    title="TernGrad hook: per-rank scalers, keep-probabilities, independence, the generator",
    function="terngrad_hook",
    calls=terngrad_calls,
)
def test_terngrad_hook(sub: Sub) -> None:
    """The keep-frequencies (FALSE_FAIL * 5/16), the ranks' independence (FALSE_FAIL * 5/16),
    the birthday test on a wide bucket (FALSE_FAIL / 8; any two of its steps with identical
    keeps fail it, so draws reused at any lag do) and the pooled bias test over every random
    keep of runs a, b and the wide run (FALSE_FAIL / 4) may each fail a correct hook with at
    most that probability: FALSE_FAIL in all."""
    a, again, b, wide = sub.cases()
    G = np.asarray(a.kwargs["grads"][0], dtype=np.float64)
    n = G.shape[1]
    what = "terngrad_hook in a group of 2 ranks (the same gradients every step)"
    runs = [_group(c, what) for c in (a, again, b, wide)]
    for run in runs:
        _same_on_every_rank(run, what)
    Gw = np.asarray(wide.kwargs["grads"][0], dtype=np.float64)
    what_w = f"terngrad_hook on a bucket of {Gw.shape[1]} entries per rank"
    wide_keeps = _decode(runs.pop()["averaged"][:, 0], Gw, what_w)
    p_w = _keep_probabilities(Gw).reshape(-1)
    repeats = repeat_problems(
        wide_keeps.reshape(len(wide_keeps), -1).astype(float), p_w, FALSE_FAIL / 8, what_w
    )
    if repeats:  # reused draws first: they also explain the law tests' failures
        raise CheckFailure("\n".join(repeats))
    keeps = [_decode(run["averaged"][:, 0], G, what) for run in runs]
    p = _keep_probabilities(G).reshape(-1)
    pooled = np.concatenate([keeps[0], keeps[2]]).reshape(-1, 2 * n)
    freq = pooled.mean(axis=0).reshape(2, n)
    sub.add_plot(
        "C4.1",
        "C4.1 TernGrad hook: how often each entry was kept, against |g_j| / s",
        {f"rank {r}": freq[r] for r in range(2)},
        {f"rank {r}": p.reshape(2, n)[r] for r in range(2)},
        x_label="entry j of the bucket",
    )
    labels = [f"rank {r} keeping entry [{j}]" for r in range(2) for j in range(n)]
    problems = rng_problems(
        keeps[0], keeps[1], keeps[2], f"{what} (generators seeded by state.generator)", p
    )
    # the law tests on the two runs together (FALSE_FAIL * 5/16 each), and the bias test
    # on them and the wide run (FALSE_FAIL / 4)
    law = marginal_problems(pooled, p, FALSE_FAIL * 5 / 16, labels, what)
    if law and follows(pooled, np.where(p > 0, 1 - p, 0.0), FALSE_FAIL / 2):
        law[0] += " Likely cause: the Bernoulli is inverted (kept with 1 - |g_j| / s)."
    law += _bias_problems([(pooled, p), (wide_keeps.reshape(len(wide_keeps), -1), p_w)])
    problems += law
    if not law:
        same = (
            "the ranks drew the same random numbers (entry by entry, the rank more likely to "
            "keep it kept it whenever the other did): give each rank its own generator, "
            "state.generator, not one both ranks start in the same state.",
            lambda hits: _same_uniforms(hits, p, n),
        )
        problems += pair_problems(pooled, p, FALSE_FAIL * 5 / 16, labels, what, cause=same)
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
                f"step (the float32 scaler and n 2-bit codes), got "
                f"{np.unique(got).astype(int).tolist()}." + cause
            )
            break
    if problems:
        raise CheckFailure("\n".join(problems))


# --------------------------------------------------------------------------- counted hooks
def counted_calls(variant: dict, seed: int) -> list[Call]:
    G = hidden_like(np.array(variant["c4"]["grads"]), np.random.default_rng([seed, 5]))
    probe = np.round(np.random.default_rng(seed).uniform(-2.0, 2.0, size=(2, 3, 20)), 3)
    return [
        _hook_call("c4.count.allreduce", "allreduce_counted_hook", _spec(G)),
        _hook_call("c4.count.fp16", "fp16_counted_hook", _spec(G)),
        _hook_call("c4.count.three", "allreduce_counted_hook", _spec(probe)),
    ]


def fp16_possible(x: np.ndarray, world: int) -> np.ndarray:
    """Which float32 entries x an all-reduce in float16 can give among `world` ranks: a
    float16 number (the ranks' float16 terms, divided by the world size before or after,
    summed in float16), or a float16 sum S divided by the world size in float32 (or float64,
    or times 1/world): within 2 float32 ulps of S / world, S the float16 nearest world x."""
    x = np.asarray(x, dtype=np.float32)
    half = x.astype(np.float16).astype(np.float32) == x
    with np.errstate(over="ignore", invalid="ignore"):
        s = (x.astype(np.float64) * world).astype(np.float16).astype(np.float64)
        after = np.abs(s / world - x) <= 2 * np.spacing(np.abs(x))
    return half | (np.isfinite(s) & after)


def _fp16_made(got: np.ndarray, want: np.ndarray, world: int, what: str) -> None:
    """Raise unless every entry of got (steps, n) is one fp16_possible: the average of an
    all-reduce in float16 is a float16 result, never the exact float32 mean (whose entries,
    of 3-decimal gradients, are almost never float16 numbers)."""
    ok = fp16_possible(got, world)
    if ok.all():
        return
    t, j = (int(v) for v in np.argwhere(~ok)[0])
    x = float(np.float32(got[t, j]))
    near = float(np.float16(x))
    exact = np.all(close_mask(got, want, RTOL, ATOL))
    raise CheckFailure(
        f"{what}: after step {t + 1} entry [{j}] is {x:.9g}, which is not a float16 result "
        f"(the nearest float16 number is {near:.9g}, and {world} x {x:.9g} is no float16 "
        f"sum either; {int((~ok).sum())} of {ok.size} entries are not). The hook must "
        "all-reduce float16 values (bucket.buffer().to(torch.float16), or torch's "
        "fp16_compress_hook), so that every rank's average is what float16 arithmetic gives."
        + (
            "\n  Likely cause: the all-reduce ran in float32 (the average is the exact float32 "
            "mean: torch's allreduce_hook, or the float32 buffer itself), while 2 bytes per "
            "entry were counted."
            if exact
            else ""
        )
    )


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
        if fp16:
            _fp16_made(run["averaged"][:, 0], want, world, what)
        per = 2 * n if fp16 else 4 * n
        got = run["bytes"]
        if not np.all(got == per):
            other = 4 * n if fp16 else 2 * n
            raise CheckFailure(
                f"{what}: each rank should count {per} bytes per step ({'2' if fp16 else '4'} "
                f"bytes for each of the bucket's {n} entries), got "
                f"{np.unique(got).astype(int).tolist()}."
                + (
                    f"\n  Likely cause: {'float32' if fp16 else 'float16'} sizes were counted."
                    if np.all(got == other)
                    else ""
                )
            )

    credit_parts(sub.cases(), one)


# --------------------------------------------------------------------------- wire bytes
def draw_ring_cases(rng: np.random.Generator) -> list[tuple[float, int, str]]:
    """Payloads (whole bytes, multiples of 4) for ring all-reduces of 2 to 4, 5 to 16 ranks
    and one rank, and all-gathers of 2 to 8 ranks and one rank."""
    payload = [float(4 * rng.integers(20, 25_000)) for _ in range(5)]
    return [
        (payload[0], int(rng.integers(2, 5)), "allreduce"),
        (payload[1], int(rng.integers(5, 17)), "allreduce"),
        (payload[2], 1, "allreduce"),
        (payload[3], int(rng.integers(2, 9)), "allgather"),
        (payload[4], 1, "allgather"),
    ]


def ring_calls(variant: dict, seed: int) -> list[Call]:
    cases = draw_ring_cases(np.random.default_rng(seed))
    return [
        Call(f"c4.ring.{i}", "ring_wire_bytes", case, returns=Number())
        for i, case in enumerate(cases)
    ]


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
