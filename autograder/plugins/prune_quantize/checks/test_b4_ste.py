"""Hidden checks for B4(a): the STE in FP_layers.py, forward and backward.

The forward pass is compared with effdl.quant on fixed tensors; a value that sits exactly
half-way between two levels may round either way. The backward pass must hand the
upstream gradient to w unchanged, with one return value per forward input.
"""

from __future__ import annotations

import numpy as np
import torch

from autograder.checking.compare import Mistake, as_array, describe, mismatch_message
from autograder.checking.credit import credit_parts
from autograder.checking.spec import Call, check
from autograder.checking.sub import Case, Sub
from autograder.checking.verdict import CheckFailure
from effdl.quant import quantize

RTOL, ATOL = 1e-5, 1e-6


def _tensor(seed: int, n: int, zeros: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(n).astype(np.float32) * 0.3
    if zeros:
        w[rng.random(n) < zeros] = 0.0
    return w


DENSE = _tensor(1, 40)
SPARSE = _tensor(2, 40, zeros=0.4)
UPSTREAM = _tensor(3, 40)
FORWARD_CASES = {  # name: (w, bit, symmetric, group)
    "asym2": (DENSE, 2, False, "asym"),
    "asym3": (DENSE, 3, False, "asym"),
    "asym4": (_tensor(4, 30).reshape(5, 6), 4, False, "asym"),
    "zeros3": (SPARSE, 3, False, "zeros"),
    "zeros2": (SPARSE, 2, False, "zeros"),
    "sym3": (DENSE, 3, True, "sym"),
    "sym4_zeros": (SPARSE, 4, True, "sym"),
    "none": (DENSE, None, False, "guard"),
    "zero_bits": (DENSE, 0, False, "guard"),
    "all_equal": (np.array([0.5, 0.5, 0.0, 0.5], dtype=np.float32), 3, False, "guard"),
    "all_zero": (np.zeros(6, dtype=np.float32), 3, False, "guard"),
}


def ste_calls(variant: dict) -> list[Call]:
    """Every STE case: the forward cases of each group, then one backward case."""
    out = [
        Call(
            f"b4.ste.{name}",
            "STE",
            mode="ste",
            kwargs={"w": w, "bit": bit, "symmetric": sym, "upstream": None},
        )
        for name, (w, bit, sym, _) in FORWARD_CASES.items()
    ]
    backward = {"w": SPARSE, "bit": 3, "symmetric": False, "upstream": UPSTREAM}
    return [*out, Call("b4.ste.backward", "STE", mode="ste", kwargs=backward)]


def _expected(w: np.ndarray, bit, symmetric: bool) -> np.ndarray:
    return quantize(torch.tensor(w), bit, symmetric).numpy().astype(np.float64)


def _levels_ok(got: np.ndarray, w: np.ndarray, bit, symmetric: bool) -> np.ndarray:
    """Per entry: equal to the reference, or (at a rounding tie) to the neighbouring level."""
    want = _expected(w, bit, symmetric)
    ok = np.abs(got - want) <= ATOL + RTOL * np.abs(want)
    if bit is None or bit == 0 or ok.all():
        return ok
    nz = w[w != 0].astype(np.float64)
    if nz.size == 0:
        return ok
    if symmetric:
        alpha, n = np.abs(nz).max(), 2 ** (bit - 1) - 1
        x = n * w / alpha
        up, down = alpha * np.ceil(x) / n, alpha * np.floor(x) / n
    else:
        beta, alpha, n = nz.min(), nz.max() - nz.min(), 2**bit - 1
        if alpha == 0:
            return ok
        x = n * (w - beta) / alpha
        up, down = alpha * np.ceil(x) / n + beta, alpha * np.floor(x) / n + beta
    half = np.abs(x - np.floor(x) - 0.5) < 1e-4
    for alt in (up, down):
        alt = np.where(w == 0, 0.0, alt)
        ok |= half & (np.abs(got - alt) <= ATOL + RTOL * np.abs(alt))
    return ok


def _forward_problem(case: Case) -> str:
    name = case.id.removeprefix("b4.ste.")
    w, bit, sym, _ = FORWARD_CASES[name]
    what = f"STE.apply(w, bit={bit}, symmetric={sym}) on a {w.shape} tensor" + (
        " with zeros" if np.any(w == 0) else ""
    )
    out = case.value
    if not isinstance(out, dict) or "forward" not in out:
        return f"{what}: unexpected result {describe(out)}."
    got = as_array(out["forward"], what, w.shape)
    if np.all(_levels_ok(got, w, bit, sym)):
        return ""
    want = _expected(w, bit, sym)
    mistakes = _mistakes(w, bit, sym)
    message = mismatch_message(got.reshape(-1), want.reshape(-1), RTOL, ATOL, what, mistakes)
    if "Likely cause" not in message:
        hint = _guard_hint(got, w, bit)
        message += f"\n  Likely cause: {hint}" if hint else ""
    return message


def _guard_hint(got: np.ndarray, w: np.ndarray, bit) -> str:
    """What a wrong result of a guard case (or a NaN anywhere) usually means."""
    if np.isnan(got).any() or np.isinf(got).any():
        return (
            "a division by zero: when all nonzero weights are equal, alpha = max - min = 0 "
            "(and with no nonzero weight at all there is no range); return w unchanged (or "
            "zeros for an all-zero tensor) before dividing."
        )
    if bit is None:
        return "bit=None means full precision: return w unchanged."
    if bit == 0:
        return "bit=0 means no bits at all: every weight becomes 0."
    return ""


def _plain(w, bit, sym, zero_mask: str = "keep", n_off: int = 0, scale_back: bool = True):
    """A quantizer with a knob for each known mistake (for naming it in feedback)."""
    w64 = w.astype(np.float64).reshape(-1)
    base = w64 if zero_mask == "none" else w64[w64 != 0]
    if sym:
        alpha, n = np.abs(base).max(), 2 ** (bit - 1) - 1 + n_off
        q = alpha * np.round(n * w64 / alpha) / n
    else:
        beta, alpha, n = base.min(), base.max() - base.min(), 2**bit - 1 + n_off
        r = np.round(n * (w64 - beta) / alpha) / n
        q = alpha * r + beta if scale_back else r
    if zero_mask == "keep":
        q = np.where(w64 == 0, 0.0, q)
    elif zero_mask == "inverted":
        q = np.where(w64 == 0, q, 0.0)
    return q


def _mistakes(w, bit, sym) -> list[Mistake]:
    if bit is None or bit == 0:
        return []
    return [
        Mistake(
            "the zero mask is inverted: it keeps only the weights that were zero.",
            lambda: _plain(w, bit, sym, "inverted"),
        ),
        Mistake(
            "zeros were not kept: compute the range from the nonzero weights and multiply "
            "by the nonzero mask.",
            lambda: _plain(w, bit, sym, "none"),
        ),
        Mistake(
            "the range included the zeros but the zeros were restored afterwards; use the "
            "nonzero weights for alpha and beta.",
            lambda: np.where(w.reshape(-1) == 0, 0.0, _plain(w, bit, sym, "none")),
        ),
        Mistake(
            f"2^bit levels were used instead of 2^bit - 1 steps (n = {2**bit}).",
            lambda: _plain(w, bit, sym, n_off=1),
        ),
        Mistake(
            "the rounded value was not scaled back (wq = alpha * R + beta).",
            lambda: _plain(w, bit, sym, scale_back=False),
        ),
        Mistake(
            "symmetric mode has n = 2^(bit-1) - 1 levels on each side of zero; "
            "2^bit - 1 were used.",
            lambda: _plain(w, bit, sym, n_off=2 ** (bit - 1)) if sym else _not_this_case(),
        ),
    ]


def _not_this_case():
    """For a mistake that does not apply to a case: likely_cause skips mistakes that raise."""
    raise ValueError("this mistake does not apply here")


def _score(sub: Sub, group: str) -> None:
    """Partial credit over the forward cases of one group."""

    def forward(case: Case) -> None:
        problem = _forward_problem(case)
        if problem:
            raise CheckFailure(problem)

    names = [f"b4.ste.{n}" for n, case in FORWARD_CASES.items() if case[3] == group]
    credit_parts([sub.case(n) for n in names], forward)


@check(
    "b4.ste_forward",
    points=4,
    problem="B4(a)",
    title="STE forward: asymmetric linear quantizer with dynamic scaling",
    function="STE",
    calls=ste_calls,
)
def test_forward(sub: Sub) -> None:
    _score(sub, "asym")


@check(
    "b4.ste_zeros",
    points=2,
    problem="B4(a)",
    title="STE forward keeps exact zeros zero",
    function="STE",
    calls=ste_calls,
)
def test_zeros(sub: Sub) -> None:
    _score(sub, "zeros")


@check(
    "b4.ste_symmetric",
    points=1,
    problem="B4(a)",
    title="STE forward, symmetric mode",
    function="STE",
    calls=ste_calls,
)
def test_symmetric(sub: Sub) -> None:
    _score(sub, "sym")


@check(
    "b4.ste_guards",
    points=1,
    problem="B4(a)",
    title="STE: bit None and 0, equal weights, all zeros",
    function="STE",
    calls=ste_calls,
)
def test_guards(sub: Sub) -> None:
    _score(sub, "guard")


@check(
    "b4.ste_backward",
    points=2,
    problem="B4(a)",
    title="STE backward: straight-through gradient, one value per input",
    function="STE",
    calls=ste_calls,
)
def test_backward(sub: Sub) -> None:
    out = sub.case("b4.ste.backward").value
    what = "STE backward"
    if not isinstance(out, dict):
        raise CheckFailure(f"{what}: unexpected result {describe(out)}.")
    error = out.get("backward_error")
    if isinstance(error, str):
        hint = ""
        if "incorrect number of gradients" in error:
            hint = (
                "\n  Likely cause: backward must return one value per forward input "
                "(w, bit, symmetric): the gradient for w, then None, None."
            )
        raise CheckFailure(f"{what}: the backward pass failed: {error[:400]}{hint}")
    grad = out.get("grad")
    if grad is None:
        raise CheckFailure(f"{what}: w received no gradient (was the output detached from w?).")
    got = as_array(grad, f"{what}: w.grad", UPSTREAM.shape)
    want = UPSTREAM.astype(np.float64)
    if np.allclose(got, want, rtol=1e-6, atol=1e-7):
        return
    cause = [
        Mistake(
            "the gradient was zeroed: the straight-through estimator passes it unchanged.",
            lambda: np.zeros_like(want),
        ),
        Mistake(
            "the gradient was masked by the nonzero weights; pass it through unchanged.",
            lambda: np.where(SPARSE == 0, 0.0, want),
        ),
    ]
    raise CheckFailure(mismatch_message(got, want, 1e-6, 1e-7, f"{what}: w.grad", cause))
