"""Hidden checks for B3: per-layer pruning, global pruning, finetuning with masks.

They run on plain torch layers and a small net named like the course's ResNet (built by the
harness), never through the student's STE. The layers' weights are drawn for each
submission (the finetuning run, whose reference costs an epoch of training, is fixed, and
its feedback never shows the expected weights).

Conventions accepted (from the problem text: "zero the weights whose |w| is below the q-th
percentile of that layer's |w|", q in percent, of ALL the layer's weights):
- a threshold from np.percentile (any interpolation), torch.quantile, kthvalue or a sort,
  pruning `<` or `<=` it: the count of zeros is q percent of the weights within
  max(2, 0.5%) of them, or a tie group at the boundary that straddles q percent is zeroed
  or kept as a whole (or split, within that slack);
- weights that are already zero count among the weights (they sit at the bottom of the
  ranking); pruning q percent of the nonzero weights instead is a mistake, per layer and in
  global pruning (which also runs on a net already pruned, as iterative pruning calls it);
- in place (the layer's weight changes); returning the layer as well is fine;
- torch.nn.utils.prune, masks kept in a helper, or plain assignment;
- finetuning: the mask re-applied after every optimizer step, or gradients masked as well;
  with prune=False (B3(d)) no mask at all, so that pruned weights may grow back;
  its return value the epoch's mean training loss per sample, in any number type (the check's
  batches are of one size, so the mean of the batch losses is that mean too).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from autograder.checking.credit import credit_parts
from autograder.checking.returns import Array, Dict, Flag, Number, Spec, Unreadable, kind_of
from autograder.checking.spec import Call, check
from autograder.checking.sub import Case, Sub
from autograder.checking.verdict import CheckFailure, Partial
from autograder.plugins.prune_quantize.sandbox.fixtures import (
    finetune_setup,
    other_parameters,
    tiny_net,
    weights_of,
)
from effdl import pruning as ref

SEED = 7
FT_LR, FT_MOMENTUM, FT_WD = 0.05, 0.875, 5e-4


def _weights(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def draw_layer_cases(seed: int) -> list[tuple[str, np.ndarray, float]]:
    """Hidden layers for one submission: random weights at q = 30, 70 (so that 100 - q is
    wrong) and 50; a layer of many equal magnitudes whose q-th percentile falls inside a tie
    group (so that `<` and `<=` prune different counts, both right); and a layer already
    40% pruned (exact zeros, no other ties), where q percent of the nonzero weights is far
    from q percent of all of them."""
    rng = np.random.default_rng(seed)
    while True:
        ties = (rng.integers(-3, 4, (12, 12)) * 0.25).astype(np.float32)
        mag = np.sort(np.abs(ties).reshape(-1))
        want = 0.5 * mag.size
        if np.sum(mag < mag[int(want)]) + 3 < want < np.sum(mag <= mag[int(want)]) - 3:
            break
    pruned = _weights(rng, (10, 16))
    pruned[rng.random(pruned.shape) < 0.4] = 0.0
    return [
        ("conv.30", _weights(rng, (8, 4, 3, 3)), 30.0),
        ("conv.70", _weights(rng, (8, 4, 3, 3)), 70.0),
        ("linear.50", _weights(rng, (10, 16)), 50.0),
        ("ties.50", ties, 50.0),
        ("pruned.50", pruned, 50.0),
    ]


LAYER_NAMES = ("conv.30", "conv.70", "linear.50", "ties.50", "pruned.50")


@functools.cache
def _weight_shapes() -> dict[str, tuple[int, ...]]:
    """The tiny net's conv and linear weights by name, and their shapes."""
    return {name: value.shape for name, value in weights_of(tiny_net(torch)).items()}


def _net_weights(seed: int, pruned: float | None = None) -> dict[str, np.ndarray]:
    """Random weights for the harness's tiny net, at a different scale in every layer."""
    rng = np.random.default_rng(seed)
    out = {}
    for k, (name, shape) in enumerate(_weight_shapes().items()):
        w = rng.standard_normal(shape).astype(np.float32) * (0.2 + 0.4 * k)
        if pruned is not None and "id_mapping" not in name:
            w[rng.random(w.shape) < pruned] = 0.0
        out[name] = w
    return out


GLOBAL_Q = 60.0
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


def _pruning_problem(
    before: np.ndarray, after: np.ndarray, q: float, what: str, whole: str = "the layer's weights"
) -> str:
    """'' when `after` is `before` with about q percent of its smallest |w| set to zero
    (`whole` names what `before` holds, for the feedback).

    The law: weights are only ever kept or zeroed; every zero is at most as large in |w| as
    every kept weight; and the count of zeros (the weights that were zero already included)
    is q percent of all the weights within max(2, 0.5%), unless a tie group at the boundary
    straddles q percent: then it may be zeroed or kept as a whole. Thresholds from
    np.percentile, torch.quantile, kthvalue or a sort, with `<` or `<=`, all satisfy it; a
    tie group far from the boundary absorbs nothing.
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
    zeros, kept = a == 0, a != 0
    n = b.size
    want = q / 100 * n
    slack = max(2.0, 0.005 * n)
    biggest_cut = float(mag[zeros].max()) if zeros.any() else 0.0
    smallest_kept = float(mag[kept].min()) if kept.any() else np.inf
    count = int(zeros.sum())
    order_ok = biggest_cut <= smallest_kept
    near = abs(count - want) <= slack
    cut_group = count >= want - slack and np.sum(mag < biggest_cut) <= want + slack
    kept_group = count <= want + slack and np.sum(mag <= smallest_kept) >= want - slack
    if order_ok and (near or cut_group or kept_group):
        return ""
    lines = [
        f"{what}: expected about {want:.1f} of {n} weights ({q:g}%) to be zero: those with "
        f"the smallest |w|, below the {q:g}th percentile of |w| over all {whole}.",
        f"  got {count} zeros ({100 * count / n:.2f}%).",
    ]
    if not order_ok:
        lines.append(
            f"  A weight with |w| = {biggest_cut:.6g} was zeroed while one with "
            f"|w| = {smallest_kept:.6g} was kept: prune the smallest magnitudes."
        )
    cause = _pruning_cause(b, zeros, q, count, slack, whole)
    if cause:
        lines.append(f"  Likely cause: {cause}")
    return "\n".join(lines)


def _pruning_cause(
    b: np.ndarray, zeros: np.ndarray, q: float, count: int, slack: float, whole: str
) -> str:
    """The catalogued mistake whose zero set (or count) the result matches, else ''."""
    mag = np.abs(b)
    already = b == 0

    def same(mask: np.ndarray) -> bool:
        return int(np.sum(mask != zeros)) <= slack

    if same(already | (mag < np.percentile(mag, q / 100))):
        return "q was used as a fraction (q/100); q is a percentage: np.percentile(|w|, q)."
    if same(already | (mag > np.percentile(mag, 100 - q))):
        return "the LARGEST weights were pruned; prune those below the percentile."
    if same(already | (b < np.percentile(b, q))):
        return "the percentile of the signed weights was used; rank by |w|."
    if already.any() and same(already | (mag < np.percentile(mag[~already], q))):
        return (
            f"{q:g}% of the nonzero weights were pruned; q is a percentage of all {whole}, "
            "zeros included (the percentile of |w| over all of them, those already zero too)."
        )
    if count and np.all(zeros[:count]) and not np.all(zeros[np.argsort(mag)[:count]]):
        return "the first weights by index were pruned, not the smallest |w|."
    if same(already | (mag < np.percentile(mag, 100 - q))):
        return "100 - q percent were pruned instead of q percent."
    return ""


def _layer_returns(w: np.ndarray) -> Dict:
    fields = {"weight": Array(w.shape), "returned_none": Flag()}
    if w.ndim == 2:  # a Linear layer has a bias, which must stay as it was
        fields["bias"] = Array((w.shape[0],))
    return Dict(fields)


def prune_layer_calls(variant: dict, seed: int) -> list[Call]:
    return [
        Call(
            f"b3.layer.{name}",
            "prune_by_percentage",
            kwargs={"weight": w, "q": q},
            mode="prune_layer",
            returns=_layer_returns(w),
        )
        for name, w, q in draw_layer_cases(seed)
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
        after = out["weight"]
        if "bias" in out:
            bias = out["bias"]
            if not np.allclose(bias, np.linspace(0.05, 0.5, w.shape[0]), atol=1e-7):
                raise CheckFailure(
                    f"{what}: the layer's bias changed; pruning zeroes weights only, "
                    "the bias is never pruned."
                )
        if np.array_equal(after, w) and not out["returned_none"]:
            raise CheckFailure(
                f"{what}: the layer's weight did not change and the function "
                "returned something: prune the layer in place."
            )
        problem = _pruning_problem(w, after, q, what)
        if problem:
            raise CheckFailure(problem)

    credit_parts(sub.cases(), layer)


def _net_returns(weights: dict[str, np.ndarray], others: bool) -> Dict:
    fields = {"weights": Dict({n: Array(w.shape) for n, w in weights.items()})}
    if others:
        fields["others"] = Dict({n: Array(w.shape) for n, w in _other_parameters().items()})
    return Dict(fields)


def global_prune_calls(variant: dict, seed: int) -> list[Call]:
    """Global pruning of a dense net and of one already 40% pruned (every counted layer; as
    in iterative pruning, B3(e)), where q percent of the nonzero weights is far more."""
    dense, pruned = _net_weights(seed), _net_weights(seed + 1, pruned=0.4)
    return [
        Call(
            call_id,
            "global_prune_by_percentage",
            kwargs={"weights": weights, "q": GLOBAL_Q},
            mode="global_prune",
            returns=_net_returns(weights, others=True),
        )
        for call_id, weights in (("b3.global.60", dense), ("b3.global.pruned.60", pruned))
    ]


@check(
    "b3.global_prune",
    points=8,
    problem="B3(e)",
    title="global pruning with one threshold over all counted layers",
    function="global_prune_by_percentage",
    calls=global_prune_calls,
)
def test_global_prune(sub: Sub) -> None:
    credit_parts(sub.cases(), functools.partial(_global_case, sub))


def _global_case(sub: Sub, case: Case) -> None:
    start = case.kwargs["weights"]  # what the net held before the call
    pre_pruned = case.id != "b3.global.60"
    what = f"global_prune_by_percentage(net, q={GLOBAL_Q:g})" + (
        " on a net whose counted layers were already about 40% pruned" if pre_pruned else ""
    )
    out = case.value
    after = out["weights"]
    counted = [n for n in start if "id_mapping" not in n]
    others = out["others"]
    changed = sorted(
        n
        for n, value in _other_parameters().items()
        if not np.allclose(others[n], value, atol=1e-7)
    )
    if changed:
        zeroed_only = all(
            np.all((others[n] == _other_parameters()[n]) | (others[n] == 0)) for n in changed
        )
        raise CheckFailure(
            f"{what}: parameters that do not count for pruning changed: {', '.join(changed)}."
            + (
                "\n  Likely cause: every parameter was pruned (net.parameters()): only the "
                "weights of the counted Conv2d and Linear layers are, never biases or batch-norm "
                "parameters."
                if zeroed_only
                else " Only the weights of the counted Conv2d and Linear layers may change."
            )
        )
    for n in start:
        if "id_mapping" in n and not np.array_equal(after[n], start[n]):
            raise CheckFailure(
                f"{what}: {n} was pruned; the id_mapping shortcuts do not count "
                "for pruning and must stay unchanged."
            )
    before = np.concatenate([start[n].reshape(-1) for n in counted])
    now = np.concatenate([after[n].reshape(-1) for n in counted])
    threshold = float(np.percentile(np.abs(before).astype(np.float64), GLOBAL_Q))
    problem = _pruning_problem(before, now, GLOBAL_Q, what, "the counted layers' weights")
    if problem:
        per_layer = all(not _pruning_problem(start[n], after[n], GLOBAL_Q, n) for n in counted)
        if per_layer:
            problem += (
                f"\n  Likely cause: every layer was pruned to {GLOBAL_Q:g}% on its own; the "
                "global threshold is one percentile over all counted layers together."
            )
        with_id = np.concatenate([start[n].reshape(-1) for n in start])
        shortcut = float(np.percentile(np.abs(with_id), GLOBAL_Q))
        if not per_layer and all(
            np.array_equal(after[n] == 0, np.abs(start[n]) < shortcut) for n in counted
        ):
            problem += (
                "\n  Likely cause: the id_mapping layers were counted in the percentile; leave "
                "them out of it, too."
            )
        raise CheckFailure(problem)
    if pre_pruned:
        return
    sparsity = {n: float(np.mean(after[n] == 0)) for n in counted}
    sub.add_plot(
        "B3(e)",
        "B3(e) sparsity of each counted layer",
        {"yours": np.array(list(sparsity.values()))},
        {"expected": np.array([float(np.mean(np.abs(start[n]) < threshold)) for n in counted])},
        x_label="counted layer (in the net's order)",
    )


@functools.cache
def _other_parameters() -> dict[str, np.ndarray]:
    """Biases and batch-norm parameters of the harness's tiny net, as it builds them (they
    do not depend on the conv and linear weights it is given)."""
    return other_parameters(tiny_net(torch))


@functools.cache
def _reference_epoch(prune: bool) -> tuple[dict[str, np.ndarray], float]:
    """The tiny net's weights after effdl's one epoch on the check's batches, and the mean
    training loss per sample that effdl returns for it (cached).

    Nothing here draws from torch's global generator (tiny_net sets every parameter), so
    threads grading side by side, whose data loaders do draw from it, cannot change it.
    """
    net, loader, opt = finetune_setup(torch, FT_SPEC)
    loss = ref.finetune_after_prune(net, loader, torch.nn.CrossEntropyLoss(), opt, prune=prune)
    return weights_of(net), float(loss)


def _reference_finetune(prune: bool) -> dict[str, np.ndarray]:
    return _reference_epoch(prune)[0]


@functools.cache
def _gradient_masked_epoch() -> tuple[dict[str, np.ndarray], float]:
    """The epoch of a known mistake: the gradients are masked but the mask is never re-applied,
    so momentum moves the pruned weights (its cost is the zeros check's, not this one's);
    with its mean training loss per sample."""
    net, loader, opt = finetune_setup(torch, FT_SPEC)
    masks = [
        (module.weight, module.weight.detach() != 0)
        for name, module in net.named_modules()
        if isinstance(module, torch.nn.Conv2d | torch.nn.Linear) and "id_mapping" not in name
    ]
    total, seen = 0.0, 0
    for inputs, targets in loader:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(inputs), targets)
        loss.backward()
        for weight, keep in masks:
            weight.grad.mul_(keep)
        opt.step()
        total, seen = total + loss.item() * len(targets), seen + len(targets)
    return weights_of(net), total / seen


@dataclass(frozen=True)
class _Returned(Spec):
    """What finetune_after_prune returned: a number, or the kind of what came instead (read
    apart, so that a wrong return value costs only its own share, never the weights')."""

    def expects(self) -> str:
        return "a single number"

    def read(self, value: Any, where: str) -> float | Unreadable | None:
        if value is None:
            return None
        try:
            return Number().read(value, where)
        except CheckFailure:
            return Unreadable(kind_of(value))


def finetune_calls(variant: dict) -> list[Call]:
    """One epoch of finetuning with prune=True, read by both finetuning checks, and the same
    epoch with prune=False (iterative pruning before its last step, B3(d)), read by the
    training check: nothing may be masked then."""
    returns = Dict(
        {**_net_returns(FT_WEIGHTS, others=False).fields, "returned": _Returned()},
        optional=frozenset({"returned"}),
    )
    return [
        Call(
            call_id,
            "finetune_after_prune",
            mode="finetune",
            timeout=60,
            kwargs={**FT_SPEC, "prune": prune},
            returns=returns,
        )
        for call_id, prune in (("b3.finetune", True), ("b3.finetune.no_mask", False))
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
    case = sub.case("b3.finetune")
    weights = case.value["weights"]
    what = "finetune_after_prune(net, trainloader, criterion, optimizer, prune=True)"
    # Zeros that stay zero prove the mask only in a layer that trained: a function that
    # leaves a layer (or the whole net) untouched keeps its zeros without any mask.
    still = [
        name
        for name, before in FT_WEIGHTS.items()
        if "id_mapping" not in name
        and np.any(before != 0)
        and np.all(weights[name][before != 0] == before[before != 0])
    ]
    if still:
        raise CheckFailure(
            f"{what}: no kept weight of {', '.join(still)} changed during the epoch, so "
            f"{'its' if len(still) == 1 else 'their'} pruned weights staying zero shows "
            "nothing about the mask: the epoch must train every layer (an optimizer.step() "
            "after each batch's backward pass) and keep the pruned weights at zero."
        )
    revived = []
    for name, before in FT_WEIGHTS.items():
        if "id_mapping" in name:
            continue
        after = weights[name]
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


def _worst_relative(got: dict, expected: dict, names=None) -> tuple[str, float]:
    """The layer with the largest relative error |got - expected| / (1e-3 + |expected|)."""

    def error(n: str) -> float:
        with np.errstate(invalid="ignore", over="ignore"):
            rel = np.abs(got[n] - expected[n]) / (1e-3 + np.abs(expected[n]))
        return float(np.max(np.where(np.isnan(rel), np.inf, rel), initial=0.0))  # NaN: far

    return max(((n, error(n)) for n in names or FT_WEIGHTS), key=lambda item: item[1])


@check(
    "b3.finetune_trains",
    points=2,
    problem="B3(c)",
    title="finetuning trains the kept weights for one epoch",
    function="finetune_after_prune",
    calls=finetune_calls,
)
def test_finetune_trains(sub: Sub) -> None:
    def part(case: Case) -> None:
        if case.id == "b3.finetune":
            _masked_epoch(case)
        else:
            _unmasked_epoch(case)

    cases = [sub.case("b3.finetune"), sub.case("b3.finetune.no_mask")]
    credit_parts(cases, part, weights=(1 - NO_MASK_SHARE, NO_MASK_SHARE))


NO_MASK_SHARE = 0.25  # of the training check: the prune=False epoch


def _unmasked_epoch(case: Case) -> None:
    """With prune=False the epoch is plain SGD: the pruned weights train (and grow back)."""
    got = case.value["weights"]
    what = "finetune_after_prune(net, trainloader, criterion, optimizer, prune=False)"
    name, err = _worst_relative(got, _reference_finetune(False))
    if err <= 1e-2:
        return
    if _worst_relative(got, _reference_finetune(True))[1] <= 1e-2:
        raise CheckFailure(
            f"{what}: the pruned weights were kept at zero, but with prune=False nothing is "
            "masked: iterative pruning (B3(d)) finetunes with prune=False until its last "
            "pruning step so that pruned weights may grow back.\n  Likely cause: the mask is "
            "applied whatever `prune` says; capture and re-apply it only when prune is true."
        )
    raise CheckFailure(
        f"{what}: after one epoch the weights differ from the reference's one epoch of SGD "
        f"without any mask (worst relative error {err:.3g} in {name}, allowed 1e-2)."
    )


def _masked_epoch(case: Case) -> None:
    """The prune=True epoch: one epoch of SGD (masked, or not: that is the zeros check's),
    and its mean training loss per sample."""
    got = case.value["weights"]
    what = "finetune_after_prune"
    # The masked and the unmasked epoch are both "one epoch of SGD": whether the mask holds
    # is the other check's business, so a missing mask costs only that check.
    candidates = [_reference_epoch(True), _reference_epoch(False)]
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
        candidates.append(_gradient_masked_epoch())
    errors = []
    for expected, loss in candidates:
        errors.append((_worst_relative(got, expected), loss))
    (name, err), loss = min(errors, key=lambda item: item[0][1])
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
    if err <= 1e-2:
        _check_returned_loss(case.value.get("returned"), loss)
        return
    cause = next((c for kind, c in FINETUNE_MISTAKES if _matches(got, _wrong_finetune(kind))), "")
    ending = f"\n  Likely cause: {cause}" if cause else "\n  No catalogued mistake matches."
    if not all(np.all(np.isfinite(w)) for w in got.values()):
        raise CheckFailure(
            f"{what}: after one epoch some weights are NaN or infinite: the training diverged."
            + ending
        )
    raise CheckFailure(
        f"{what}: after one epoch the weights differ from the reference's one epoch of SGD on "
        f"the same batches (worst relative error {err:.3g} in {name}, allowed 1e-2)." + ending
    )


LOSS_RTOL = 1e-3  # float32 losses of the same epoch agree far closer than this
LOSS_SHARE = 0.25  # of the check's points: the epoch itself is the rest


def _check_returned_loss(returned: float | Unreadable | None, expected: float) -> None:
    """The epoch trained as it should: its return value must be the mean training loss per
    sample, the losses of the batches as they were trained on (before each step)."""
    what = "finetune_after_prune's return value"
    if isinstance(returned, float) and abs(returned - expected) <= LOSS_RTOL * abs(expected):
        return
    if returned is None or isinstance(returned, Unreadable):
        kind = "nothing (None)" if returned is None else returned.kind
        message = (
            f"{what}: expected a number, the epoch's mean training loss per sample, got {kind}."
        )
    else:
        batches, samples = len(FT_Y) // FT_SPEC["batch_size"], len(FT_Y)
        causes = (
            (expected * batches, "the batches' losses were summed, not averaged."),
            (expected * samples, "the per-sample losses were summed, not averaged."),
        )
        cause = next((c for value, c in causes if abs(returned - value) <= LOSS_RTOL * value), "")
        message = (
            f"{what}: got {returned:.6g}, which is not the epoch's mean training loss per sample "
            "(each batch's loss as it was trained on, weighted by its size, over all samples; "
            f"allowed {LOSS_RTOL:g} relative). The epoch itself trained as it should."
            + (f"\n  Likely cause: {cause}" if cause else "")
        )
    raise Partial(1 - LOSS_SHARE, message)


FINETUNE_MISTAKES = (
    ("eval", "the network was left in evaluation mode (net.eval()); call net.train()."),
    ("no_zero_grad", "gradients piled up over the batches: optimizer.zero_grad() is missing."),
    ("two_epochs", "two epochs were run; finetune_after_prune runs one over the loader."),
)


def _matches(got: dict, expected: dict) -> bool:
    """Whether every weight matches (NaN and inf where the expected ones are, else within a
    relative 1e-2)."""
    for n, want in expected.items():
        finite = np.isfinite(want)
        if not np.array_equal(np.isfinite(got[n]), finite):
            return False
        if finite.any() and _worst_relative({n: got[n][finite]}, {n: want[finite]}, [n])[1] > 1e-2:
            return False
    return True


@functools.cache
def _wrong_finetune(kind: str) -> dict[str, np.ndarray]:
    """The epoch of a known mistake, with the mask re-applied after every step (cached)."""
    net, loader, opt = finetune_setup(torch, FT_SPEC)
    masks = [
        (module.weight, module.weight.detach() == 0)
        for name, module in net.named_modules()
        if isinstance(module, torch.nn.Conv2d | torch.nn.Linear) and "id_mapping" not in name
    ]
    if kind == "eval":
        net.eval()
    with np.errstate(all="ignore"):
        for _ in range(2 if kind == "two_epochs" else 1):
            for inputs, targets in loader:
                if kind != "no_zero_grad":
                    opt.zero_grad()
                torch.nn.functional.cross_entropy(net(inputs), targets).backward()
                opt.step()
                with torch.no_grad():
                    for weight, pruned in masks:
                        weight[pruned] = 0.0
    return weights_of(net)
