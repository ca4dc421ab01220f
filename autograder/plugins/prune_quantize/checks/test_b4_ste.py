"""Hidden checks for B4(a): the STE in FP_layers.py, forward and backward.

The forward pass is compared with effdl.quant on hidden tensors drawn for each submission;
a value that sits exactly half-way between two levels may round either way. The backward
pass must hand the upstream gradient to w unchanged, with one return value per forward
input; one backward case has weights and upstream gradients well outside [-1, 1], where a
clipped gradient (hardtanh's STE) differs.

Conventions accepted (from the problem text): float32 or float64 arithmetic; round half
up, down or to even at an exact half-way value; the zero mask from `w != 0` or `w == 0`
inverted the right way; backward returning (grad, None, None) or (grad, None) plus None
for symmetric when it is given. Not accepted, whatever the values: a forward that writes into
w (the full-precision weight the STE's update is applied to), or whose result is not of w's
dtype (FP_Conv's F.conv2d then fails); either costs half of the forward check. Code the course's starter gives (the `bit is None` and
`bit == 0` branches) earns nothing by itself: the guard check's points come from the cases
a student writes (all weights equal, all zero), and the given branches must still work.
"""

from __future__ import annotations

import numpy as np
import torch

from autograder.checking.compare import Mistake, mismatch_message
from autograder.checking.credit import credit_parts
from autograder.checking.returns import Array, Dict, Optional, Text
from autograder.checking.spec import Call, check
from autograder.checking.sub import Case, Sub
from autograder.checking.verdict import CheckFailure, Partial
from effdl.quant import quantize

RTOL, ATOL = 1e-5, 1e-6
GROUPS = {  # name: (bit, symmetric, group); the tensors are drawn per submission
    "asym2": (2, False, "asym"),
    "asym3": (3, False, "asym"),
    "asym4": (4, False, "asym"),
    "zeros3": (3, False, "zeros"),
    "zeros2": (2, False, "zeros"),
    "zeros_one_sign3": (3, False, "zeros"),
    "sym3": (3, True, "sym"),
    "sym4_zeros": (4, True, "sym"),
    "none": (None, False, "given"),
    "zero_bits": (0, False, "given"),
    "all_equal": (3, False, "guard"),
    "all_zero": (3, False, "guard"),
}
BACKWARD = ("backward", "backward_large")


def _tensor(rng: np.random.Generator, n: int, zeros: float = 0.0, scale: float = 0.3):
    w = rng.standard_normal(n).astype(np.float32) * scale
    if zeros:
        w[rng.random(n) < zeros] = 0.0
    return w


def draw_cases(seed: int) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Every STE case's tensor (and upstream gradient, for the backward cases) for one
    submission: dense and 40%-sparse tensors, a sparse one whose nonzero weights share a
    sign, a 5x6 one, equal weights beside a zero, all zeros, and for backward a sparse tensor with |w| and |upstream| inside [-1, 1] and one
    with both spread over about [-4, 4]."""
    rng = np.random.default_rng(seed)
    dense, sparse = _tensor(rng, 40), _tensor(rng, 40, zeros=0.4)
    level = np.float32(rng.choice([0.25, 0.5, -0.75, 1.5]))
    equal = np.array([level, level, 0.0, level], dtype=np.float32)
    tensors = {
        "asym2": dense,
        "asym3": dense,
        "asym4": _tensor(rng, 30).reshape(5, 6),
        "zeros3": sparse,
        "zeros2": sparse,
        "sym3": dense,
        "sym4_zeros": sparse,
        "none": dense,
        "zero_bits": dense,
        "all_equal": equal,
        "all_zero": np.zeros(6, dtype=np.float32),
    }
    out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {
        k: (w, None) for k, w in tensors.items()
    }
    small = np.clip(_tensor(rng, 40, zeros=0.4), -0.95, 0.95)
    out["backward"] = (small, np.clip(_tensor(rng, 40), -0.95, 0.95))
    out["backward_large"] = (_tensor(rng, 40, zeros=0.4, scale=2.0), _tensor(rng, 40, scale=2.0))
    # Nonzero weights of one sign, all at least 0.1 from zero: a range taken with the
    # zeros in it starts at 0, not at the smallest weight, and every level moves.
    one_sign = np.abs(_tensor(rng, 40, zeros=0.4))
    one_sign[one_sign != 0] += np.float32(0.1)
    out["zeros_one_sign3"] = (one_sign * np.float32(rng.choice([-1.0, 1.0])), None)
    return out


def ste_calls(variant: dict, seed: int) -> list[Call]:
    """Every STE case: the forward cases of each group, then the backward cases."""
    cases = draw_cases(seed)
    out = []
    for name, (w, up) in cases.items():
        bit, sym = (3, False) if name in BACKWARD else GROUPS[name][:2]
        fields = {"forward": Array(w.shape), "w_after": Array(w.shape), "dtype": Text()}
        if up is not None:
            fields |= {"grad": Optional(Array(w.shape)), "backward_error": Text()}
        out.append(
            Call(
                f"b4.ste.{name}",
                "STE",
                mode="ste",
                kwargs={"w": w, "bit": bit, "symmetric": sym, "upstream": up},
                returns=Dict(fields, optional=frozenset({"grad", "backward_error"})),
            )
        )
    return out


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
    w, bit, sym = case.kwargs["w"], case.kwargs["bit"], case.kwargs["symmetric"]
    what = f"STE.apply(w, bit={bit}, symmetric={sym}) on a {w.shape} tensor" + (
        " with zeros" if np.any(w == 0) else ""
    )
    try:
        got = case.value["forward"]
    except CheckFailure as failure:
        return f"{what}: {failure}"
    if np.all(_levels_ok(got, w, bit, sym)):
        return ""
    want = _expected(w, bit, sym)
    mistakes = _mistakes(w, bit, sym)
    message = mismatch_message(got.reshape(-1), want.reshape(-1), RTOL, ATOL, what, mistakes)
    if "Likely cause" not in message:
        message += _guard_hint(got, w, bit)
    return message


def _guard_hint(got: np.ndarray, w: np.ndarray, bit) -> str:
    """What the guard cases require, and a division by zero when the result shows one: a
    non-finite value where the range of the nonzero weights is 0 (or there is none)."""
    nonzero = w[w != 0]
    degenerate = nonzero.size == 0 or bool(np.all(nonzero == nonzero[0]))
    if (np.isnan(got).any() or np.isinf(got).any()) and degenerate and bit not in (None, 0):
        return (
            "\n  Likely cause: a division by zero: when all nonzero weights are equal, alpha = "
            "max - min = 0 (and with no nonzero weight at all there is no range); return w "
            "unchanged (or zeros for an all-zero tensor) before dividing."
        )
    if bit is None:
        return "\n  bit=None means full precision: w must come back unchanged."
    if bit == 0:
        return "\n  bit=0 means no bits at all: every weight becomes 0."
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


def _zeros_moved(w: np.ndarray, wrong: np.ndarray) -> np.ndarray:
    """`wrong`, if it moves a zero weight (else NaN, which matches nothing: with every zero
    still zero, "zeros were not kept" is not what the output shows)."""
    zeros = w.reshape(-1) == 0
    return wrong if np.any(np.asarray(wrong).reshape(-1)[zeros] != 0) else np.full(w.size, np.nan)


def _mistakes(w, bit, sym) -> list[Mistake]:
    if bit is None or bit == 0:
        return []
    return [
        Mistake(
            "the zero mask is inverted: it keeps only the weights that were zero.",
            lambda: _plain(w, bit, sym, "inverted"),
        ),
        Mistake(
            "the range included the zeros but the zeros were restored afterwards; use the "
            "nonzero weights for alpha and beta.",
            lambda: np.where(w.reshape(-1) == 0, 0.0, _plain(w, bit, sym, "none")),
        ),
        Mistake(
            "zeros were not kept: compute the range from the nonzero weights and multiply "
            "by the nonzero mask.",
            lambda: _zeros_moved(w, _plain(w, bit, sym, "none")),
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


def _forward(case: Case) -> None:
    problem = _forward_problem(case)
    if problem:
        raise CheckFailure(problem)


def _score(sub: Sub, group: str) -> None:
    """Partial credit over the forward cases of one group."""
    names = [f"b4.ste.{n}" for n, case in GROUPS.items() if case[2] == group]
    credit_parts([sub.case(n) for n in names], _forward)


@check(
    "b4.ste_forward",
    points=4,
    problem="B4(a)",
    title="STE forward: asymmetric linear quantizer with dynamic scaling",
    function="STE",
    calls=ste_calls,
)
def test_forward(sub: Sub) -> None:
    try:
        _score(sub, "asym")
        earned, problems = 1.0, []
    except Partial as partial:
        earned, problems = partial.fraction, [str(partial)]
    contract = _contract_problems(sub)
    if contract:
        earned *= 1 - CONTRACT_SHARE
        problems += contract
    if problems:
        raise Partial(earned, "\n\n".join(problems))


CONTRACT_SHARE = 0.5  # of what the forward's values earned


def _contract_problems(sub: Sub) -> list[str]:
    """What the forward broke besides its values, over every STE case: w must be as it was
    after the forward (it is the full-precision weight, which the update is applied to), and
    the result a tensor of w's dtype. Each kind of breach is told once, for its first case."""
    changed, retyped = [], []
    for name in [*GROUPS, *BACKWARD]:
        case = sub.case(f"b4.ste.{name}")
        try:
            out = case.value
        except CheckFailure:  # the values' checks explain a call that gave nothing
            continue
        w = case.kwargs["w"]
        if not np.array_equal(out["w_after"], w):
            changed.append((case, out))
        if out["dtype"] != "torch.float32":
            retyped.append((case, out))
    problems = []
    if changed:
        case, out = changed[0]
        w, after = case.kwargs["w"], out["w_after"]
        n = int(np.sum(after != w))
        overwritten = np.allclose(after, out["forward"], rtol=0, atol=0, equal_nan=True)
        problems.append(
            f"{_call_text(case)}: w itself changed during the forward pass ({n} of {w.size} "
            f"entries; {len(changed)} of {len(GROUPS) + len(BACKWARD)} cases). The forward must "
            "return a new tensor and leave w as it was: w is the full-precision weight, which "
            "the STE's update is applied to; overwriting it rounds away every update smaller "
            "than a level step."
            + (
                "\n  Likely cause: the quantized values were written into w (w.copy_(...), "
                "w.data = ..., or an in-place operation on w)."
                if overwritten
                else ""
            )
        )
    if retyped:
        case, out = retyped[0]
        dtype = out["dtype"]
        if dtype.startswith("torch."):
            got = f"a {dtype} tensor"
        else:
            got = f"a {dtype}, not a tensor"
        problems.append(
            f"{_call_text(case)}: the forward returned {got} for a torch.float32 w "
            f"({len(retyped)} of {len(GROUPS) + len(BACKWARD)} cases): the result must have "
            "w's dtype and shape (FP_Conv and FP_Linear pass it to F.conv2d / F.linear beside "
            "float32 inputs, which fails for any other dtype)."
            + (
                "\n  Likely cause: the quantization was computed in float64 and not converted "
                "back (.to(w.dtype))."
                if dtype == "torch.float64"
                else ""
            )
        )
    return problems


def _call_text(case: Case) -> str:
    w, bit, sym = case.kwargs["w"], case.kwargs["bit"], case.kwargs["symmetric"]
    return f"STE.apply(w, bit={bit}, symmetric={sym}) on a {w.shape} tensor"


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
    given = [sub.case(f"b4.ste.{n}") for n, case in GROUPS.items() if case[2] == "given"]
    broken = [_forward_problem(case) for case in given]
    if any(broken):  # the starter's own branches: they earn nothing, but must keep working
        raise CheckFailure("\n\n".join(p for p in broken if p))
    # Both guard cases' right answer is w itself, which a forward that never quantizes gives
    # too: the guards earn only beside a forward that quantizes (right or not, which the
    # forward checks judge) some ordinary tensor.
    ordinary = [n for n, case in GROUPS.items() if case[2] not in ("guard", "given")]
    if not any(_quantizes(sub.case(f"b4.ste.{n}")) for n in ordinary):
        raise CheckFailure(
            "STE forward: the guard cases (all weights equal, all zero) must return w "
            "unchanged, which a forward that never quantizes does too; their point needs a "
            "forward that maps some ordinary tensor onto at most 2^bit levels, and none of the "
            "hidden tensors was."
        )
    _score(sub, "guard")


def _quantizes(case: Case) -> bool:
    """Whether the forward changed w and put it on at most 2^bit + 1 values (the levels and
    zero): quantizing at all, whether or not to the right levels."""
    w, bit = case.kwargs["w"], case.kwargs["bit"]
    try:
        got = case.value["forward"]
    except CheckFailure:
        return False
    if not np.all(np.isfinite(got)) or np.allclose(got, w, rtol=1e-6, atol=1e-7):
        return False
    return np.unique(got).size <= 2**bit + 1


@check(
    "b4.ste_backward",
    points=2,
    problem="B4(a)",
    title="STE backward: straight-through gradient, one value per input",
    function="STE",
    calls=ste_calls,
)
def test_backward(sub: Sub) -> None:
    credit_parts([sub.case(f"b4.ste.{n}") for n in BACKWARD], _backward)


def _backward(case: Case) -> None:
    w, upstream = case.kwargs["w"], case.kwargs["upstream"]
    spread = "inside [-1, 1]" if np.abs(np.r_[w, upstream]).max() <= 1 else "beyond [-1, 1]"
    what = f"STE backward (bit=3, weights and upstream gradient {spread})"
    out = case.value
    error = out.get("backward_error")
    if error is not None:
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
    want = upstream.astype(np.float64)
    if np.allclose(grad, want, rtol=1e-6, atol=1e-7):
        return
    cause = [
        Mistake(
            "the gradient was zeroed: the straight-through estimator passes it unchanged.",
            lambda: np.zeros_like(want),
        ),
        Mistake(
            "the gradient was masked by the nonzero weights; pass it through unchanged.",
            lambda: np.where(w == 0, 0.0, want),
        ),
        Mistake(
            "the gradient was clipped into [-1, 1]; the STE passes it through unchanged.",
            lambda: np.clip(want, -1.0, 1.0),
        ),
        Mistake(
            "the gradient was zeroed where |w| > 1 (the STE of a clipped, hardtanh-like "
            "quantizer); this STE passes it through for every weight.",
            lambda: np.where(np.abs(w) > 1, 0.0, want),
        ),
    ]
    raise CheckFailure(mismatch_message(grad, want, 1e-6, 1e-7, f"{what}: w.grad", cause))
