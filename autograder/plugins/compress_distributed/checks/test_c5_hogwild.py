"""Hidden check for C5: one Hogwild update, in place, touching only its sample's coordinates.

The fixture runs the student's sgd_update in a child process on shared weights whose memory
pages hold no coordinate of the sample are read-only: an update that writes every coordinate
(w -= lr * dense gradient) faults there, which is the concurrent overwriting that costs
Hogwild its lost updates. The values are compared with effdl's update on the same inputs,
drawn for each submission (from its seed): weights, 1 to 50 coordinates (in one page, or
for the largest sample in the second and fourth pages, so that writing the stretch
w[min(idx) : max(idx) + 1] crosses the read-only third page), values, labels and learning
rates. In one more case the weights outside idx are signalling NaNs during the call, so
that an update which reads them (a dense w @ x) comes out NaN, and one that writes them
(the stretch from min(idx) to max(idx), in the writable page, even adding 0) changes their
bits.

Conventions accepted: the update written with numpy fancy indexing, np.subtract.at, a loop,
or a torch view of the shared weights; returning None or w itself (the update in place is
what counts).
"""

from __future__ import annotations

import numpy as np

from autograder.checking.compare import Mistake, assert_close
from autograder.checking.credit import credit_parts
from autograder.checking.returns import Array, Dict, Flag, Text
from autograder.checking.spec import Call, check
from autograder.checking.sub import Case, Sub
from autograder.checking.verdict import CheckFailure
from effdl import hogwild as ref

D = 2048  # four 4 KiB pages of float64; every sample's indices lie in the second one


def _case(rng: np.random.Generator, nnz: int, spread: bool = False) -> dict:
    """One sample: nnz distinct coordinates in the second page (spread: some in the second,
    the others in the fourth), 3-decimal weights and values, a label and a learning rate."""
    idx = 512 + rng.choice(512, size=nnz, replace=False)
    if spread:
        far = int(rng.integers(1, nnz))  # coordinates moved to the fourth page, 1 to nnz - 1
        idx[:far] += 1024
    return {
        "w": np.round(rng.standard_normal(D), 3),
        "idx": idx.astype(np.int64),
        "val": np.round(rng.standard_normal(nnz), 3),
        "y": float(rng.choice([-1.0, 1.0])),
        "lr": float(rng.choice([0.05, 0.1, 0.2, 0.5])),
    }


UPDATE_RETURNS = Dict(
    {
        "w": Array((D,)),
        "faulted": Flag(),
        "written": Array((None,), whole=True, max_size=D),
        "timed_out": Flag(),
        "error": Text(max_length=400),
        "returned_none": Flag(),
    }
)


def sgd_update_calls(variant: dict, seed: int) -> list[Call]:
    rng = np.random.default_rng(seed)
    sizes = (int(rng.integers(5, 16)), 1, int(rng.integers(30, 51)))
    cases = [(f"c5.update.{i}", _case(rng, nnz, spread=i == 2)) for i, nnz in enumerate(sizes)]
    cases.append(("c5.update.reads", {**_case(rng, int(rng.integers(5, 16))), "poison": True}))
    return [
        Call(name, "sgd_update", kwargs=kw, mode="sgd_update", timeout=15, returns=UPDATE_RETURNS)
        for name, kw in cases
    ]


@check(
    "c5.sgd_update",
    points=5,
    problem="C5.1",
    title="Hogwild's update: in place, reading and writing only w[idx]",
    function="sgd_update",
    calls=sgd_update_calls,
)
def test_sgd_update(sub: Sub) -> None:
    def one(case: Case) -> None:
        spec = case.kwargs
        idx, val, y, lr = spec["idx"], spec["val"], spec["y"], spec["lr"]
        what = f"sgd_update(w ({D},), idx of {idx.size} coordinates, val, y={y:g}, lr={lr:g})"
        out = case.value
        if out["error"].startswith("NotImplementedError"):
            raise CheckFailure(
                "`sgd_update` is not implemented yet (it raised NotImplementedError)."
            )
        if out["error"]:
            raise CheckFailure(f"{what} raised {out['error']}")
        if out["timed_out"]:
            raise CheckFailure(f"{what} did not return within its time budget.")
        if out["faulted"]:
            raise CheckFailure(
                f"{what} wrote to coordinates outside idx: the weights outside the sample's "
                "coordinates were read-only in this check, and writing them faulted. A Hogwild "
                "update must read and write only w[idx] (for example w[idx] -= lr * coef * val); "
                "writing every coordinate (w -= lr * dense_gradient), or the stretch from "
                "min(idx) to max(idx), overwrites the other processes' updates."
            )
        got = out["w"]
        w0 = spec["w"]
        written = out["written"].astype(int)
        if written.size:
            lo, hi = int(idx.min()), int(idx.max())
            band = np.setdiff1d(np.arange(lo, hi + 1), idx)
            shown = ", ".join(str(i) for i in written[:8]) + (", ..." if written.size > 8 else "")
            raise CheckFailure(
                f"{what} wrote coordinates outside idx: {written.size} of them ([{shown}]; "
                f"idx runs from {lo} to {hi}). In this case every weight outside the sample's "
                "coordinates held a NaN bit pattern during the call, and these came back with "
                "other bits, so they were written (even adding 0, or writing the same value "
                "back, is a write). A Hogwild update must read and write only w[idx]: writing "
                "other coordinates overwrites what the other processes wrote there."
                + (
                    f"\n  Likely cause: the stretch w[{lo} : {hi + 1}] between the smallest "
                    "and the largest index was written back, not only w[idx]."
                    if np.array_equal(np.sort(written), band)
                    else ""
                )
            )
        if spec.get("poison") and not np.all(np.isfinite(got[idx])):
            raise CheckFailure(
                f"{what} read coordinates outside idx: in this case every weight outside the "
                "sample's coordinates was NaN during the call, and w[idx] came out NaN. A "
                "Hogwild update must read and write only w[idx] (the margin is y * val @ "
                "w[idx]); a dense product w @ x reads every coordinate, which the other "
                "processes are writing at the same time."
            )
        want = w0.copy()
        ref.sgd_update(want, idx, val, y, lr)
        if np.array_equal(got, w0):
            raise CheckFailure(
                f"{what} left w unchanged"
                + (
                    " and returned a value: update the shared weights in place (w[idx] -= ...)."
                    if not out["returned_none"]
                    else "."
                )
            )
        margin = y * float(val @ w0[idx])
        sigma = 1.0 / (1.0 + np.exp(margin))
        mistakes = [
            Mistake(
                "the step has the wrong sign: the gradient of log(1 + exp(-y x.w)) is "
                "-y sigma(-y x.w) x, and SGD subtracts it.",
                lambda: _moved(w0, idx, -lr * y * sigma * val),
            ),
            Mistake(
                "the sigmoid factor is missing: the gradient is -y sigma(-y x.w) x, not -y x.",
                lambda: _moved(w0, idx, lr * y * val),
            ),
        ]
        # rounding grows with the operands (w0 and the step), not with the result, which is
        # small where the step nearly cancels w0: a float32 sigmoid is right too
        scale = np.abs(w0) + np.abs(want - w0)
        if np.all(np.abs(got - want) <= 1e-8 + 1e-6 * scale):
            return
        assert_close(
            got, want, rtol=1e-6, atol=1e-8, what=f"{what}: w after the update", mistakes=mistakes
        )

    credit_parts(sub.cases(), one)


def _moved(w0: np.ndarray, idx: np.ndarray, step: np.ndarray) -> np.ndarray:
    out = w0.copy()
    out[idx] += step
    return out
