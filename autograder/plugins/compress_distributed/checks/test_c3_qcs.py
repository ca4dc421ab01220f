"""Hidden checks for C3: the b-bit quantizer, quantized measurements, L and ISTA.

All four are deterministic: they are compared with effdl on the student's own numbers and
on the grader's. No input sits halfway between two quantizer levels (where either neighbour
is correct).
"""

from __future__ import annotations

import numpy as np

from autograder.checking.compare import Mistake, assert_close, fmt
from autograder.checking.credit import credit_parts
from autograder.checking.spec import Call, check
from autograder.checking.sub import Case, Sub
from autograder.checking.verdict import CheckFailure
from effdl import qcs as ref
from effdl.sparse_opt import soft_threshold

RTOL, ATOL = 1e-6, 1e-9

QUANT_PROBE = np.array([-3.1, 0.4, 1.2, -0.9, 2.2, 0.05, -1.7])  # its extreme is negative
QUANT_CASES = [("bits1", 1, None), ("bits2", 2, None), ("bits4", 4, None), ("clipped", 3, 2.0)]
PHI_TALL = np.array(
    [[0.5, -1.0, 0.2], [1.5, 0.3, -0.7], [-0.4, 0.8, 1.1], [0.9, -0.2, 0.6], [0.1, 1.3, -0.5]]
)
PHI_WIDE = np.array([[0.3, -0.8, 1.2, 0.5, -0.1, 0.7], [1.1, 0.4, -0.6, 0.2, 0.9, -1.3]])
G_WIDE = np.array([0.0, 2.0, 0.0, 0.0, -1.5, 0.0])
PHI_MEASURE = np.vstack([PHI_WIDE, 0.5 * PHI_WIDE[:, ::-1]])  # 4 measurements of 6 entries


def _levels(y: np.ndarray, bits: int, R: float) -> str:
    return fmt(ref.quantizer_levels(bits, R))


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


def quantize_calls(variant: dict) -> list[Call]:
    q = variant["c3"]["quantize"]
    y = np.array(q["y"], dtype=np.float64)
    calls = [Call("c3.quant.own", "uniform_quantize", (y, int(q["bits"])))]
    for name, bits, R in QUANT_CASES:
        kw = {} if R is None else {"R": R}
        calls.append(Call(f"c3.quant.{name}", "uniform_quantize", (QUANT_PROBE, bits), kw))
    calls.append(Call("c3.quant.column", "uniform_quantize", (y.reshape(-1, 1), 2)))
    calls.append(Call("c3.quant.zero", "uniform_quantize", (np.zeros(4), 3)))
    return calls


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
    return out


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

    credit_parts(sub.cases(), one)


def measure_calls(variant: dict) -> list[Call]:
    ic = variant["c3"]["ista"]
    Phi = np.array(ic["Phi"], dtype=np.float64)
    x = np.array(ic["x_true"], dtype=np.float64)
    return [
        Call("c3.measure.own", "qcs_measure", (x, Phi, 4)),
        Call("c3.measure.probe", "qcs_measure", (G_WIDE, PHI_MEASURE, 2)),
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
            mistakes=[
                Mistake(
                    "the measurements were not quantized; the message is Q_b(Phi g).",
                    lambda g=g, Phi=Phi: Phi @ g,
                ),
                Mistake(
                    "g was quantized before it was measured; quantize the measurements Phi g.",
                    lambda g=g, Phi=Phi, b=bits: Phi @ ref.uniform_quantize(g, b),
                ),
            ],
        )


def lipschitz_calls(variant: dict) -> list[Call]:
    Phi = np.array(variant["c3"]["ista"]["Phi"], dtype=np.float64)
    return [
        Call("c3.lip.own", "lipschitz_constant", (Phi,)),
        Call("c3.lip.tall", "lipschitz_constant", (PHI_TALL,)),
        Call("c3.lip.wide", "lipschitz_constant", (PHI_WIDE,)),
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
        sigma = float(np.linalg.norm(Phi, 2))
        assert_close(
            case.value,
            ref.lipschitz_constant(Phi),
            rtol=RTOL,
            atol=ATOL,
            what=f"lipschitz_constant(Phi {Phi.shape})",
            mistakes=[
                Mistake(
                    "that is ||Phi||_2, the largest singular value; L is its square.",
                    lambda s=sigma: s,
                ),
                Mistake(
                    "that is the squared Frobenius norm (the sum of all eigenvalues of "
                    "Phi^T Phi); L is the largest eigenvalue.",
                    lambda Phi=Phi: float(np.sum(Phi**2)),
                ),
            ],
        )


def ista_calls(variant: dict) -> list[Call]:
    ic = variant["c3"]["ista"]
    Phi = np.array(ic["Phi"], dtype=np.float64)
    y = np.array(ic["y"], dtype=np.float64)
    lam = float(ic["lam"])
    L = ref.lipschitz_constant(PHI_TALL.T)
    y_wide = PHI_TALL.T @ np.array([1.0, 0.0, -2.0, 0.0, 0.5])
    calls = [Call(f"c3.ista.own{t}", "ista", (y, Phi, lam), {"steps": int(t)}) for t in ic["steps"]]
    calls += [
        Call(
            "c3.ista.x0",
            "ista",
            (y_wide, PHI_TALL.T, 0.05),
            {"steps": 20, "x0": np.array([0.5, 0.5, 0.0, -0.5, 0.0]), "step": 0.5 / L},
        ),
        Call("c3.ista.L", "ista", (y_wide, PHI_TALL.T, 0.2), {"steps": 30, "L": 1.5 * L}),
        Call("c3.ista.refuse", "ista", (y_wide, PHI_TALL.T, 0.05), {"steps": 5, "step": 2.0 / L}),
    ]
    return calls


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
                return
            raise CheckFailure(
                f"{what}: a step of 2 / L is above 1 / L = {1 / ref.lipschitz_constant(Phi):.4g}, "
                "where ISTA may oscillate or diverge; the function should refuse it with a "
                "ValueError, got "
                + ("a result" if result.status == "ok" else f"{result.status} ({result.error})")
                + "."
            )
        assert_close(
            case.value,
            ref.ista(y, Phi, lam, **kw),
            rtol=1e-5,
            atol=1e-7,
            what=what,
            mistakes=_ista_mistakes(
                y,
                Phi,
                lam,
                kw["steps"],
                kw.get("x0"),
                kw.get("step", None if "L" not in kw else 1 / kw["L"]),
            ),
        )

    credit_parts(sub.cases(), one)
