"""Hidden checks for C3: the b-bit quantizer, quantized measurements, L and ISTA.

All four are deterministic: they are compared with effdl on the student's own numbers and
on hidden inputs drawn afresh for each submission (from its seed). The drawn inputs keep
what the checks rely on: vectors whose largest |y_i| is negative (so that R = max |y|
differs from the largest signed value), a clipping R below it, no entry near the midpoint
of two levels, matrices whose L = sigma^2 differs from sigma and from the squared Frobenius
norm and, for ISTA, a well conditioned 3 x 5 Phi (cond <= 4); every catalogued mistake gives
other numbers on them. An entry within rounding of a midpoint may take either level.

Conventions accepted: vectors as (n,) or (n, 1), lists, numpy arrays or tensors, float32 or
float64; L as a float or an array holding one number; ISTA's refusal of a step above 1/L
as a ValueError.
"""

from __future__ import annotations

import numpy as np

from autograder.checking.compare import Mistake, assert_close, fmt
from autograder.checking.credit import credit_parts
from autograder.checking.returns import Array, Number
from autograder.checking.spec import Call, check
from autograder.checking.sub import Case, Sub
from autograder.checking.verdict import CheckFailure, Partial
from effdl import qcs as ref
from effdl.sparse_opt import soft_threshold

RTOL, ATOL = 1e-6, 1e-9
QUANT_BITS = (("bits1", 1), ("bits2", 2), ("bits4", 4))
DIFFER = 1e-3  # how far every catalogued mistake's answer stays from the right one


def _levels(y: np.ndarray, bits: int, R: float) -> str:
    return fmt(ref.quantizer_levels(bits, R))


def _differs(want: np.ndarray | float, mistakes: list[Mistake]) -> bool:
    """Whether every mistake's answer is at least DIFFER away from `want` somewhere."""
    want = np.asarray(want, dtype=np.float64)
    for m in mistakes:
        wrong = np.asarray(m.compute(), dtype=np.float64)
        if wrong.shape == want.shape and np.max(np.abs(wrong - want)) < DIFFER:
            return False
    return True


def _near_midpoint(y: np.ndarray, bits: int, R: float) -> bool:
    pos = (np.clip(y, -R, R) + R) * (2**bits - 1) / (2 * R)
    return bool(np.any(np.abs(pos - np.floor(pos) - 0.5) < 1e-3))


def tie_tolerant(got: object, y: np.ndarray, bits: int, R: float | None) -> np.ndarray:
    """The reference quantization of y, except that an entry within rounding of a midpoint
    between two levels takes whichever neighbour the student's output is closer to (either
    is correct there; float32 arithmetic may land on either side)."""
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    want = ref.uniform_quantize(y, bits, R)
    R_used = float(np.max(np.abs(y))) if R is None else float(R)
    if R_used == 0:
        return want
    try:
        g = np.asarray(got, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return want
    if g.shape != want.shape:
        return want
    levels = ref.quantizer_levels(bits, R_used)
    pos = (np.clip(y, -R_used, R_used) + R_used) * (levels.size - 1) / (2 * R_used)
    near = np.abs(pos - np.floor(pos) - 0.5) < 1e-6
    low = levels[np.clip(np.floor(pos).astype(int), 0, levels.size - 1)]
    high = levels[np.clip(np.floor(pos).astype(int) + 1, 0, levels.size - 1)]
    pick = np.where(np.abs(g - low) <= np.abs(g - high), low, high)
    return np.where(near, pick, want)


# --------------------------------------------------------------------------- C3.1
def _quant_mistakes(y: np.ndarray, bits: int, R: float | None) -> list[Mistake]:
    y = y.reshape(-1)
    R_true = float(np.max(np.abs(y))) if R is None else R
    n = 2**bits - 1

    def with_range(R_used: float) -> np.ndarray:
        j = np.rint((np.clip(y, -R_used, R_used) + R_used) * n / (2 * R_used))
        return R_used * (-1 + 2 * j / n)

    def spacing(steps: int) -> np.ndarray:
        j = np.rint((np.clip(y, -R_true, R_true) + R_true) * steps / (2 * R_true))
        return R_true * (-1 + 2 * j / steps)

    out = [
        Mistake(
            f"the levels are {2 * R_true / 2**bits:.4g} apart (2R / 2^b): with -R and R both "
            f"levels, 2^b levels are 2R / (2^b - 1) apart.",
            lambda: spacing(2**bits),
        ),
        Mistake(
            "entries were rounded down to a level (floor); round to the nearest level.",
            lambda: R_true * (-1 + 2 * np.floor((y + R_true) * n / (2 * R_true)) / n),
        ),
    ]
    if R is None:
        out.insert(
            0,
            Mistake(
                "the range was taken from the largest signed value max(y) (or from max - min); "
                "it is R = max |y_i|, so that the most negative entry is in range.",
                lambda: with_range(float(np.max(y))),
            ),
        )
    elif float(np.max(np.abs(y))) < R:
        out.insert(
            0,
            Mistake(
                f"the given R = {R:g} was used only to clip, and the levels were spread over "
                "max |y_i| instead; with R given, the levels span [-R, R].",
                lambda: with_range(float(np.max(np.abs(np.clip(y, -R, R))))),
            ),
        )
    return out


def _negative_extreme(y: np.ndarray) -> bool:
    """Whether one entry holds max |y|, it is negative, and some entry is positive."""
    top = np.abs(y).max()
    return bool(np.sum(np.abs(y) == top) == 1 and y[np.argmax(np.abs(y))] < 0 and y.max() > 0)


def draw_quant_probe(rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
    """7 entries (2 decimals) with a negative extreme and none near a midpoint, a clipping R
    below max |y| and a roomy R above it (the levels then span [-R, R], wider than the
    values): every catalogued mistake differs on each case of the probe."""
    while True:
        y = np.round(rng.uniform(-3.2, 3.2, 7), 2)
        if not _negative_extreme(y):
            continue
        top = float(np.abs(y).max())
        R = round(top * float(rng.uniform(0.45, 0.75)), 1)
        roomy = round(top * float(rng.uniform(1.2, 1.6)), 1)
        cases = [(bits, None) for _, bits in QUANT_BITS] + [(3, R), (2, roomy)]
        if all(
            not _near_midpoint(y, b, top if r is None else r)
            and _differs(ref.uniform_quantize(y, b, r), _quant_mistakes(y, b, r))
            for b, r in cases
        ):
            return y, R, roomy


def quantize_calls(variant: dict, seed: int) -> list[Call]:
    q = variant["c3"]["quantize"]
    y = np.array(q["y"], dtype=np.float64)
    probe, R, roomy = draw_quant_probe(np.random.default_rng(seed))

    def call(name: str, values: np.ndarray, bits: int, kw: dict | None = None) -> Call:
        return Call(
            f"c3.quant.{name}",
            "uniform_quantize",
            (values, bits),
            kw or {},
            returns=Array((values.size,)),
        )

    return [
        call("own", y, int(q["bits"])),
        *(call(name, probe, bits) for name, bits in QUANT_BITS),
        call("clipped", probe, 3, {"R": R}),
        call("roomy", probe, 2, {"R": roomy}),
        call("column", y.reshape(-1, 1), 2),
        call("zero", np.zeros(4), 3),
    ]


@check(
    "c3.uniform_quantize",
    points=4,
    problem="C3.1",
    title="b-bit uniform quantization onto 2^b levels in [-R, R]",
    function="uniform_quantize",
    calls=quantize_calls,
)
def test_uniform_quantize(sub: Sub) -> None:
    def one(case: Case) -> None:
        y, bits = np.asarray(case.args[0], dtype=np.float64), case.args[1]
        R = case.kwargs.get("R")
        R_used = float(np.max(np.abs(y))) if R is None else R
        what = f"uniform_quantize({fmt(y.reshape(-1))}, bits={bits}" + (
            f", R={R:g})" if R is not None else ")"
        )
        assert_close(
            case.value,
            tie_tolerant(case.value, y, bits, R),
            rtol=RTOL,
            atol=ATOL,
            what=f"{what} (levels {_levels(y, bits, R_used)})" if R_used else what,
            mistakes=_quant_mistakes(y, bits, R),
        )

    credit_parts(sub.cases(), one, vacuous=lambda case: case.id == "c3.quant.zero")


def _measure_mistakes(g: np.ndarray, Phi: np.ndarray, bits: int) -> list[Mistake]:
    return [
        Mistake(
            "the measurements were not quantized; the message is Q_b(Phi g).",
            lambda: Phi @ g,
        ),
        Mistake(
            "g was quantized before it was measured; quantize the measurements Phi g.",
            lambda: Phi @ ref.uniform_quantize(g, bits),
        ),
    ]


def draw_measure_probe(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """g of 6 entries with 2 nonzero halves and a 4 x 6 Phi (1 decimal) whose measurements
    have a negative extreme and no entry near a midpoint of the 2-bit levels; the mistakes
    of qcs_measure and of the quantizer inside it give other numbers."""
    while True:
        g = np.zeros(6)
        g[rng.choice(6, size=2, replace=False)] = rng.choice([-1, 1], 2) * rng.integers(1, 6, 2) / 2
        Phi = np.round(rng.uniform(-1.3, 1.3, size=(4, 6)), 1)
        y = Phi @ g
        if np.abs(y).max() < 0.5 or not _negative_extreme(y):
            continue
        if _near_midpoint(y, 2, float(np.abs(y).max())):
            continue
        mistakes = _measure_mistakes(g, Phi, 2) + _quant_mistakes(y, 2, None)
        if _differs(ref.uniform_quantize(y, 2), mistakes):
            return g, Phi


def measure_calls(variant: dict, seed: int) -> list[Call]:
    ic = variant["c3"]["ista"]
    Phi = np.array(ic["Phi"], dtype=np.float64)
    x = np.array(ic["x_true"], dtype=np.float64)
    g, P = draw_measure_probe(np.random.default_rng(seed))
    return [
        Call("c3.measure.own", "qcs_measure", (x, Phi, 4), returns=Array((Phi.shape[0],))),
        Call("c3.measure.probe", "qcs_measure", (g, P, 2), returns=Array((P.shape[0],))),
    ]


@check(
    "c3.qcs_measure",
    points=2,
    problem="C3.1",
    title="a worker's message: Q_b(Phi g)",
    function="qcs_measure",
    calls=measure_calls,
)
def test_qcs_measure(sub: Sub) -> None:
    for case in sub.cases():
        g, Phi, bits = case.args
        assert_close(
            case.value,
            tie_tolerant(case.value, Phi @ g, bits, None),
            rtol=RTOL,
            atol=ATOL,
            what=f"qcs_measure(g={fmt(g)}, Phi {Phi.shape}, bits={bits})",
            mistakes=_measure_mistakes(g, Phi, bits),
        )


# --------------------------------------------------------------------------- C3.2
def _lipschitz_mistakes(Phi: np.ndarray) -> list[Mistake]:
    return [
        Mistake(
            "that is ||Phi||_2, the largest singular value; L is its square.",
            lambda: float(np.linalg.norm(Phi, 2)),
        ),
        Mistake(
            "that is the squared Frobenius norm (the sum of all eigenvalues of Phi^T Phi); L "
            "is the largest eigenvalue.",
            lambda: float(np.sum(Phi**2)),
        ),
    ]


def draw_lipschitz(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A matrix (1 decimal) whose L = sigma^2 differs from sigma and from the squared
    Frobenius norm."""
    while True:
        Phi = np.round(rng.uniform(-1.5, 1.5, size=shape), 1)
        if _differs(ref.lipschitz_constant(Phi), _lipschitz_mistakes(Phi)):
            return Phi


def lipschitz_calls(variant: dict, seed: int) -> list[Call]:
    rng = np.random.default_rng(seed)
    Phi = np.array(variant["c3"]["ista"]["Phi"], dtype=np.float64)
    cases = [("own", Phi), ("tall", draw_lipschitz(rng, (5, 3)))]
    cases.append(("wide", draw_lipschitz(rng, (2, 6))))
    return [
        Call(f"c3.lip.{name}", "lipschitz_constant", (P,), returns=Number()) for name, P in cases
    ]


@check(
    "c3.lipschitz_constant",
    points=2,
    problem="C3.2",
    title="L = ||Phi||_2^2, the largest eigenvalue of Phi^T Phi",
    function="lipschitz_constant",
    calls=lipschitz_calls,
)
def test_lipschitz(sub: Sub) -> None:
    for case in sub.cases():
        (Phi,) = case.args
        assert_close(
            case.value,
            ref.lipschitz_constant(Phi),
            rtol=RTOL,
            atol=ATOL,
            what=f"lipschitz_constant(Phi {Phi.shape})",
            mistakes=_lipschitz_mistakes(Phi),
        )


def _ista_mistakes(y, Phi, lam, steps, x0, step) -> list[Mistake]:
    L = ref.lipschitz_constant(Phi)
    sigma = float(np.linalg.norm(Phi, 2))
    x_start = np.zeros(Phi.shape[1]) if x0 is None else np.asarray(x0, dtype=np.float64)

    def run(t: float, thresh: float, sign: float = 1.0) -> np.ndarray:
        x = x_start.copy()
        for _ in range(steps):
            x = soft_threshold(x + sign * t * (Phi.T @ (y - Phi @ x)), thresh)
        return x

    t = 1.0 / L if step is None else step
    out = [
        Mistake("the threshold is lam; after a step of size t it is lam * t.", lambda: run(t, lam)),
        Mistake("the soft threshold is missing (plain gradient steps).", lambda: run(t, 0.0)),
        Mistake(
            "the gradient step has the wrong sign: x + t Phi^T (y - Phi x) moves toward the data.",
            lambda: run(t, lam * t, -1.0),
        ),
    ]
    if step is None:
        out.insert(
            0,
            Mistake(
                f"the step is 1 / ||Phi||_2 = {1 / sigma:.4g}, above 1 / L = {1 / L:.4g} "
                "(L = ||Phi||_2^2): ISTA may oscillate or diverge with it.",
                lambda: run(1.0 / sigma, lam / sigma),
            ),
        )
    return out


def _same(case: Case, want: np.ndarray) -> bool:
    """Whether the case's value is readable and within the ISTA check's tolerance of want."""
    try:
        got = case.value
    except CheckFailure:
        return False
    return bool(np.allclose(got, want, rtol=1e-5, atol=1e-7))


def _ista_step(kw: dict) -> float | None:
    return kw.get("step", None if "L" not in kw else 1 / kw["L"])


def draw_ista(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray, float, dict]]:
    """A well conditioned 3 x 5 Phi (1 decimal, cond <= 4, sigma at least 0.1 from 1),
    y = Phi x for an x with two nonzero halves, and the three cases: a start x0 and a step
    below 1/L, a given L above the true one, and a step of 2/L that must be refused; every
    catalogued mistake ends elsewhere on the first two."""
    while True:
        Phi = np.round(rng.uniform(-1.2, 1.2, size=(3, 5)), 1)
        sv = np.linalg.svd(Phi, compute_uv=False)
        if sv[-1] <= 0 or sv[0] / sv[-1] > 4 or abs(sv[0] - 1) < 0.1:
            continue
        x = np.zeros(5)
        x[rng.choice(5, size=2, replace=False)] = rng.choice([-1, 1], 2) * rng.integers(1, 5, 2) / 2
        y = Phi @ x
        L = ref.lipschitz_constant(Phi)
        x0 = rng.integers(-2, 3, size=5) / 2
        cases = [
            (y, Phi, 0.05, {"steps": 20, "x0": x0, "step": 0.5 / L}),
            (y, Phi, 0.2, {"steps": 30, "L": 1.5 * L}),
        ]
        if all(
            _differs(
                ref.ista(y, P, lam, **kw),
                _ista_mistakes(y, P, lam, kw["steps"], kw.get("x0"), _ista_step(kw)),
            )
            for y, P, lam, kw in cases
        ):
            return [*cases, (y, Phi, 0.05, {"steps": 5, "step": 2.0 / L})]


def ista_calls(variant: dict, seed: int) -> list[Call]:
    ic = variant["c3"]["ista"]
    Phi = np.array(ic["Phi"], dtype=np.float64)
    y = np.array(ic["y"], dtype=np.float64)
    lam = float(ic["lam"])
    own = [
        Call(
            f"c3.ista.own{t}",
            "ista",
            (y, Phi, lam),
            {"steps": int(t)},
            returns=Array((Phi.shape[1],)),
        )
        for t in ic["steps"]
    ]
    drawn = [
        Call(f"c3.ista.{name}", "ista", (yy, P, lm), kw, returns=Array((P.shape[1],)))
        for name, (yy, P, lm, kw) in zip(
            ("x0", "L", "refuse"), draw_ista(np.random.default_rng(seed)), strict=True
        )
    ]
    return own + drawn


@check(
    "c3.ista",
    points=6,
    problem="C3.2",
    title="ISTA: soft-thresholded gradient steps of size 1/L",
    function="ista",
    calls=ista_calls,
)
def test_ista(sub: Sub) -> None:
    def one(case: Case) -> None:
        y, Phi, lam = case.args
        kw = case.kwargs
        what = (
            f"ista(y, Phi {Phi.shape}, lam={lam:g}, "
            + ", ".join(
                f"{k}={fmt(v) if not isinstance(v, float) else f'{v:.4g}'}" for k, v in kw.items()
            )
            + ")"
        )
        if case.id == "c3.ista.refuse":
            result = case.result
            if result.status == "error" and result.error.startswith("ValueError"):
                if not any(solved(c) for c in sub.cases() if c.id != case.id):
                    raise CheckFailure(
                        f"{what}: refused with a ValueError, as it should, but no other "
                        "case came out right: refusing earns only beside a function that "
                        "also runs ISTA right on some valid input."
                    )
                return
            raise CheckFailure(
                f"{what}: a step of 2 / L is above 1 / L = {1 / ref.lipschitz_constant(Phi):.4g}, "
                "where ISTA may oscillate or diverge; the function should refuse it with a "
                "ValueError, got "
                + ("a result" if result.status == "ok" else f"{result.status} ({result.error})")
                + "."
            )
        if "L" in kw and _same(case, ref.ista(y, Phi, lam, steps=kw["steps"])):
            # The statement has L be lipschitz_constant(Phi) "when the caller has it": a
            # function that computes it itself, ignoring the larger bound given here, is
            # right too (held-out student pass of round 13).
            return
        assert_close(
            case.value,
            ref.ista(y, Phi, lam, **kw),
            rtol=1e-5,
            atol=1e-7,
            what=what,
            mistakes=_ista_mistakes(y, Phi, lam, kw["steps"], kw.get("x0"), _ista_step(kw)),
        )

    def solved(case: Case) -> bool:
        try:
            one(case)
        except (CheckFailure, Partial):
            return False
        return True

    credit_parts(sub.cases(), one)
