"""Hidden checks for B3: per-layer pruning, global pruning, finetuning with masks.

They run on plain torch layers and a small net named like the course's ResNet (built by the
harness), never through the student's STE. Ties at the percentile are a convention, not a
mistake: pruning `<` or `<=` the threshold both pass.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from autograder.checking.compare import as_array, describe, fmt
from autograder.checking.credit import credit_parts
from autograder.checking.spec import Call, check
from autograder.checking.sub import Case, Sub
from autograder.checking.verdict import CheckFailure
from autograder.plugins.prune_quantize.sandbox.fixtures import (
    finetune_setup,
    other_parameters,
    tiny_net,
    weights_of,
)
from effdl import pruning as ref

SEED = 7
FT_LR, FT_MOMENTUM, FT_WD = 0.05, 0.875, 5e-4


def _weights(seed: int, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


LAYER_CASES = [
    ("conv.30", _weights(1, (8, 4, 3, 3)), 30.0),
    ("conv.70", _weights(2, (8, 4, 3, 3)), 70.0),
    ("linear.50", _weights(3, (10, 16)), 50.0),
    # many equal magnitudes: the percentile falls on a tie
    (
        "ties.50",
        (np.random.default_rng(4).integers(-3, 4, (12, 12)) * 0.25).astype(np.float32),
        50.0,
    ),
]


def _net_weights(seed: int, pruned: float | None = None) -> dict[str, np.ndarray]:
    """Random weights for the harness's tiny net, at a different scale in every layer."""
    torch.manual_seed(seed)
    net = tiny_net(torch)
    rng = np.random.default_rng(seed)
    out = {}
    for k, (name, value) in enumerate(weights_of(net).items()):
        w = rng.standard_normal(value.shape).astype(np.float32) * (0.2 + 0.4 * k)
        if pruned is not None and "id_mapping" not in name:
            w[rng.random(w.shape) < pruned] = 0.0
        out[name] = w
    return out


GLOBAL_WEIGHTS = _net_weights(11)
FT_WEIGHTS = _net_weights(12, pruned=0.5)
FT_X = np.random.default_rng(13).standard_normal((64, 3, 8, 8)).astype(np.float32)
FT_Y = np.random.default_rng(14).integers(0, 10, 64)
# warm_start: the optimizer has momentum from earlier steps, as in iterative pruning (see
# fixtures.finetune_setup), so that masking only the gradients does not keep pruned weights.
FT_SPEC = {
    "weights": FT_WEIGHTS,
    "x": FT_X,
    "y": FT_Y,
    "batch_size": 16,
    "lr": FT_LR,
    "momentum": FT_MOMENTUM,
    "weight_decay": FT_WD,
    "warm_start": True,
}


def _pruning_problem(before: np.ndarray, after: np.ndarray, q: float, what: str) -> str:
    """'' when `after` is `before` with about q percent of its smallest |w| set to zero.

    The law: weights are only ever kept or zeroed; every zeroed weight is at most as large as
    every kept one (ties either way); and the count is q percent of the weights within
    max(2, 0.5%) elements, plus whatever ties sit at the boundary. Thresholds from
    np.percentile, torch.quantile or kthvalue, with `<` or `<=`, all satisfy it.
    """
    b, a = before.reshape(-1).astype(np.float64), after.reshape(-1).astype(np.float64)
    mag = np.abs(b)
    changed = (a != b) & (a != 0)
    if changed.any():
        i = int(np.flatnonzero(changed)[0])
        return (
            f"{what}: weights must be kept unchanged or set to 0; entry {i} went from "
            f"{b[i]:.6g} to {a[i]:.6g}."
        )
    zeroed = (a == 0) & (b != 0)
    kept = a != 0
    n = b.size
    want = q / 100 * n
    slack = max(2.0, 0.005 * n)
    biggest_cut = float(mag[zeroed].max()) if zeroed.any() else 0.0
    smallest_kept = float(mag[kept].min()) if kept.any() else np.inf
    count = int(np.sum(a == 0))
    tied = int(np.sum(np.isclose(mag, biggest_cut, rtol=1e-6, atol=0))) if zeroed.any() else 0
    order_ok = biggest_cut <= smallest_kept * (1 + 1e-6)
    count_ok = abs(count - want) <= slack + tied
    if order_ok and count_ok:
        return ""
    threshold = float(np.percentile(mag, q))
    lines = [
        f"{what}: expected about {want:.1f} of {n} weights ({q:g}%) set to zero: those "
        f"with |w| below the {q:g}th percentile of |w| ({threshold:.6g}).",
        f"  got {count} zeros ({100 * count / n:.2f}%).",
    ]
    if not order_ok:
        lines.append(
            f"  A weight with |w| = {biggest_cut:.6g} was zeroed while one with "
            f"|w| = {smallest_kept:.6g} was kept: prune the smallest magnitudes."
        )
    if count < want / 10 and q >= 10:
        lines.append(
            "  Likely cause: q was used as a fraction (q/100) or the percentile was "
            "taken on the wrong scale; q is a percentage: np.percentile(|w|, q)."
        )
    elif np.array_equal(zeroed, mag > np.percentile(mag, 100 - q)):
        lines.append(
            "  Likely cause: the LARGEST weights were pruned; prune those below the percentile."
        )
    elif np.array_equal(zeroed, b < np.percentile(b, q)):
        lines.append("  Likely cause: the percentile of the signed weights was used; rank by |w|.")
    elif count and np.all(zeroed[:count]):
        lines.append(
            "  Likely cause: the first weights by index were pruned, not the smallest |w|."
        )
    elif abs(count - (100 - q) / 100 * n) <= slack:
        lines.append("  Likely cause: 100 - q percent were pruned instead of q percent.")
    return "\n".join(lines)


def prune_layer_calls(variant: dict) -> list[Call]:
    return [
        Call(
            f"b3.layer.{name}",
            "prune_by_percentage",
            kwargs={"weight": w, "q": q},
            mode="prune_layer",
        )
        for name, w, q in LAYER_CASES
    ]


@check(
    "b3.prune_by_percentage",
    points=8,
    problem="B3(b)",
    title="per-layer magnitude pruning at the q-th percentile",
    function="prune_by_percentage",
    calls=prune_layer_calls,
)
def test_prune_layer(sub: Sub) -> None:
    def layer(case: Case) -> None:
        w, q = case.kwargs["weight"], case.kwargs["q"]
        what = f"prune_by_percentage({'Conv2d' if w.ndim == 4 else 'Linear'} {w.shape}, q={q:g})"
        out = case.value
        if not isinstance(out, dict) or "weight" not in out:
            raise CheckFailure(f"{what}: unexpected result {describe(out)}.")
        after = as_array(out["weight"], f"{what}: layer.weight", w.shape)
        if "bias" in out:
            bias = as_array(out["bias"], f"{what}: layer.bias", (w.shape[0],))
            if not np.allclose(bias, np.linspace(0.05, 0.5, w.shape[0]), atol=1e-7):
                raise CheckFailure(
                    f"{what}: the layer's bias changed; pruning zeroes weights only, "
                    "the bias is never pruned."
                )
        if np.array_equal(after, w) and not out.get("returned_none", True):
            raise CheckFailure(
                f"{what}: the layer's weight did not change and the function "
                "returned something: prune the layer in place."
            )
        problem = _pruning_problem(w, after, q, what)
        if problem:
            raise CheckFailure(problem)

    credit_parts(sub.cases(), layer)


def global_prune_calls(variant: dict) -> list[Call]:
    spec = {"weights": GLOBAL_WEIGHTS, "q": 60.0}
    return [Call("b3.global.60", "global_prune_by_percentage", kwargs=spec, mode="global_prune")]


@check(
    "b3.global_prune",
    points=8,
    problem="B3(e)",
    title="global pruning with one threshold over all counted layers",
    function="global_prune_by_percentage",
    calls=global_prune_calls,
)
def test_global_prune(sub: Sub) -> None:
    (case,) = sub.cases()
    out = case.value
    what = "global_prune_by_percentage(net, q=60)"
    if not isinstance(out, dict) or not isinstance(out.get("weights"), dict):
        raise CheckFailure(f"{what}: unexpected result {describe(out)}.")
    got = out["weights"]
    counted = [n for n in GLOBAL_WEIGHTS if "id_mapping" not in n]
    missing = [n for n in GLOBAL_WEIGHTS if n not in got]
    if missing:
        raise CheckFailure(f"{what}: the net lost its weights {missing}.")
    after = {n: as_array(got[n], f"{what}: {n}", GLOBAL_WEIGHTS[n].shape) for n in GLOBAL_WEIGHTS}
    others = out.get("others") if isinstance(out.get("others"), dict) else {}
    changed = sorted(
        n
        for n, start in _other_parameters().items()
        if n in others and not np.allclose(as_array(others[n], n, start.shape), start, atol=1e-7)
    )
    if changed:
        raise CheckFailure(
            f"{what}: parameters that do not count for pruning changed: {', '.join(changed)}.\n"
            "  Likely cause: every parameter was pruned (net.parameters()); only the weights of "
            "the counted Conv2d and Linear layers are, never biases or batch-norm parameters."
        )
    for n in GLOBAL_WEIGHTS:
        if "id_mapping" in n and not np.array_equal(after[n], GLOBAL_WEIGHTS[n]):
            raise CheckFailure(
                f"{what}: {n} was pruned; the id_mapping shortcuts do not count "
                "for pruning and must stay unchanged."
            )
    before = np.concatenate([GLOBAL_WEIGHTS[n].reshape(-1) for n in counted])
    now = np.concatenate([after[n].reshape(-1) for n in counted])
    threshold = float(np.percentile(np.abs(before).astype(np.float64), 60.0))
    problem = _pruning_problem(before, now, 60.0, what)
    if problem:
        per_layer = all(abs(float(np.mean(after[n] == 0)) - 0.6) < 0.02 for n in counted)
        if per_layer:
            problem += (
                "\n  Likely cause: every layer was pruned to 60% on its own; the global "
                "threshold is one percentile over all counted layers together."
            )
        with_id = np.concatenate([GLOBAL_WEIGHTS[n].reshape(-1) for n in GLOBAL_WEIGHTS])
        if abs(float(np.percentile(np.abs(with_id), 60.0)) - threshold) > 1e-9 and not per_layer:
            problem += "\n  (The id_mapping layers must be left out of the percentile, too.)"
        raise CheckFailure(problem)
    sparsity = {n: float(np.mean(after[n] == 0)) for n in counted}
    sub.add_plot(
        "B3(e)",
        "B3(e) sparsity of each counted layer",
        {"yours": np.array(list(sparsity.values()))},
        {
            "expected": np.array(
                [float(np.mean(np.abs(GLOBAL_WEIGHTS[n]) < threshold)) for n in counted]
            )
        },
        x_label="counted layer (in the net's order)",
    )


@functools.cache
def _other_parameters() -> dict[str, np.ndarray]:
    """Biases and batch-norm parameters of the harness's tiny net, as it builds them."""
    return other_parameters(tiny_net(torch, GLOBAL_WEIGHTS))


@functools.cache
def _reference_finetune(prune: bool) -> dict[str, np.ndarray]:
    """The tiny net's weights after effdl's one epoch on the check's batches (cached).

    Nothing here draws from torch's global generator (tiny_net sets every parameter), so
    threads grading side by side, whose data loaders do draw from it, cannot change it.
    """
    net, loader, opt = finetune_setup(torch, FT_SPEC)
    ref.finetune_after_prune(net, loader, torch.nn.CrossEntropyLoss(), opt, prune=prune)
    return weights_of(net)


@functools.cache
def _gradient_masked_finetune() -> dict[str, np.ndarray]:
    """The epoch of a known mistake: the gradients are masked but the mask is never re-applied,
    so momentum moves the pruned weights (its cost is the zeros check's, not this one's)."""
    net, loader, opt = finetune_setup(torch, FT_SPEC)
    masks = [
        (module.weight, module.weight.detach() != 0)
        for name, module in net.named_modules()
        if isinstance(module, torch.nn.Conv2d | torch.nn.Linear) and "id_mapping" not in name
    ]
    for inputs, targets in loader:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(inputs), targets).backward()
        for weight, keep in masks:
            weight.grad.mul_(keep)
        opt.step()
    return weights_of(net)


def finetune_calls(variant: dict) -> list[Call]:
    """One epoch of finetuning, read by both finetuning checks."""
    return [
        Call("b3.finetune", "finetune_after_prune", mode="finetune", timeout=60, kwargs=FT_SPEC)
    ]


@check(
    "b3.finetune_keeps_zeros",
    points=4,
    problem="B3(c)",
    title="finetuning keeps every pruned weight exactly zero",
    function="finetune_after_prune",
    calls=finetune_calls,
)
def test_finetune_zeros(sub: Sub) -> None:
    (case,) = sub.cases()
    out = case.value
    what = "finetune_after_prune(net, trainloader, criterion, optimizer, prune=True)"
    if not isinstance(out, dict) or not isinstance(out.get("weights"), dict):
        raise CheckFailure(f"{what}: unexpected result {describe(out)}.")
    revived = []
    for name, before in FT_WEIGHTS.items():
        if "id_mapping" in name or name not in out["weights"]:
            continue
        after = as_array(out["weights"][name], f"{what}: {name}", before.shape)
        n = int(np.sum((before == 0) & (after != 0)))
        if n:
            revived.append(
                f"{name}: {n} of {int(np.sum(before == 0))} pruned weights are "
                "nonzero after the epoch"
            )
    if revived:
        raise CheckFailure(
            f"{what}: pruned weights came back to life.\n  " + "\n  ".join(revived) + "\n  Likely "
            "cause: the mask is not re-applied after every optimizer.step() (momentum and weight "
            "decay move zero weights too; masking only the gradients is not enough once the "
            "optimizer has momentum)."
        )


def _worst_relative(got: dict, expected: dict) -> tuple[str, float]:
    """The layer with the largest relative error |got - expected| / (1e-3 + |expected|)."""

    def error(n: str) -> float:
        with np.errstate(invalid="ignore", over="ignore"):
            rel = np.abs(got[n] - expected[n]) / (1e-3 + np.abs(expected[n]))
        return float(np.max(np.where(np.isnan(rel), np.inf, rel)))  # NaN is never close

    return max(((n, error(n)) for n in FT_WEIGHTS), key=lambda item: item[1])


@check(
    "b3.finetune_trains",
    points=2,
    problem="B3(c)",
    title="finetuning trains the kept weights for one epoch",
    function="finetune_after_prune",
    calls=finetune_calls,
)
def test_finetune_trains(sub: Sub) -> None:
    (case,) = sub.cases()
    out = case.value
    what = "finetune_after_prune"
    if not isinstance(out, dict) or not isinstance(out.get("weights"), dict):
        raise CheckFailure(f"{what}: unexpected result {describe(out)}.")
    # The masked and the unmasked epoch are both "one epoch of SGD": whether the mask holds
    # is the other check's business, so a missing mask costs only that check.
    candidates = [_reference_finetune(True), _reference_finetune(False)]
    got = {
        n: as_array(out["weights"].get(n), f"{what}: {n}", b.shape) for n, b in FT_WEIGHTS.items()
    }
    moved = sum(int(np.sum(got[n][b != 0] != b[b != 0])) for n, b in FT_WEIGHTS.items())
    total = sum(int(np.sum(b != 0)) for b in FT_WEIGHTS.values())
    if moved < total // 2:
        raise CheckFailure(
            f"{what}: only {moved} of {total} kept weights changed: was the "
            "optimizer stepped on every batch?"
        )
    # When the pruned weights are still zero at the end, the epoch must be the masked one:
    # the unmasked epoch with its zeros put back only afterwards is a different training run
    # (pruned weights took part in every forward pass).
    pruned = {n: b == 0 for n, b in FT_WEIGHTS.items() if "id_mapping" not in n}
    zeros_hold = all(np.all(got[n][mask] == 0) for n, mask in pruned.items())
    if zeros_hold:
        candidates = candidates[:1]
    else:
        candidates.append(_gradient_masked_finetune())
    errors = []
    for expected in candidates:
        errors.append((_worst_relative(got, expected), expected))
    (name, err), expected = min(errors, key=lambda item: item[0][1])
    if err > 1e-2 and zeros_hold:
        late = {
            n: np.where(pruned[n], 0.0, w) if n in pruned else w
            for n, w in _reference_finetune(False).items()
        }
        if _worst_relative(got, late)[1] <= 1e-2:
            raise CheckFailure(
                f"{what}: the pruned weights are zero at the end, but the kept weights are "
                "those of an epoch in which the pruned weights trained too.\n  Likely cause: "
                "the mask was applied only at the end of the epoch (or before it); re-apply it "
                "after every optimizer.step()."
            )
    if not all(np.all(np.isfinite(w)) for w in got.values()):
        raise CheckFailure(
            f"{what}: after one epoch some weights are NaN or infinite: the training diverged.\n"
            "  Likely causes: the network left in evaluation mode (net.eval(); call net.train()), "
            "a wrong loss or step, or gradients piling up without zero_grad."
        )
    if err > 1e-2:
        raise CheckFailure(
            f"{what}: after one epoch the weights differ from the reference's one epoch of SGD on "
            f"the same batches (worst relative error {err:.3g} in {name}, allowed 1e-2).\n"
            "  Likely causes: more or fewer than one epoch, zero_grad missing, or the loss "
            f"computed differently. Expected e.g. {fmt(expected[name].reshape(-1)[:4])}, got "
            f"{fmt(got[name].reshape(-1)[:4])}."
        )
