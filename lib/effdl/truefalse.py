"""The true/false questions of the assignments: the key and a model justification each.

The statements themselves are in the notebook templates; this module holds what an answer
key, a rubric and the grader need. Items are "1.1" .. "1.10" in each assignment.
"""

from __future__ import annotations

DISTRIBUTED_SPARSE = {
    "1.1": (
        False,
        "One-bit gradients lose information; without error feedback accuracy drops, "
        "and communication cost is not set by bit length alone (latency, synchronization).",
    ),
    "1.2": (
        True,
        "Pruning removes weights and quantization shortens the remaining ones; the two "
        "are orthogonal and pruned models quantize well.",
    ),
    "1.3": (
        False,
        "Pruning reduces the number of weights, not the number of distinct values; a "
        "look-up table needs weight sharing or quantization.",
    ),
    "1.4": (
        False,
        "Stale gradients and contention for the parameter server mean there is no "
        "guarantee of linear speedup.",
    ),
    "1.5": (
        False,
        "It is the other way round: group lasso is an L1 penalty over the groups' "
        "L2 norms, which zeroes whole groups.",
    ),
    "1.6": (
        False,
        "L1 is not scale-invariant (scaling W scales the penalty); Hoyer is, and "
        "Hoyer-square approximates L0 well.",
    ),
    "1.7": (
        True,
        "The proximity term keeps each step close to the current weights without "
        "changing the optimum, which smooths convergence.",
    ),
    "1.8": (
        False,
        "CUDA parallelism comes from launching a kernel over many threads; serial "
        "loops are not parallelized by themselves.",
    ),
    "1.9": (
        True,
        "This is DP-SGD: clipped gradients plus calibrated noise hide any single "
        "training example's influence.",
    ),
    "1.10": (
        True,
        "With a large enough strength, trimmed L1 drives all but the untrimmed "
        "entries to zero, so its solutions meet the L0 constraint.",
    ),
}

PRUNE_QUANTIZE = {
    "1.1": (
        True,
        "Pruning reduces the number of weights and quantization their precision; "
        "they compose without getting in each other's way.",
    ),
    "1.2": (
        False,
        "Unstructured zeros are still stored and multiplied by dense GPU kernels; a "
        "speedup needs structured sparsity or special hardware.",
    ),
    "1.3": (
        False,
        "Huffman coding needs a small set of repeated symbols; without quantization "
        "almost every weight value is distinct.",
    ),
    "1.4": (
        False,
        "SGD on a sparsity regularizer leaves many tiny nonzero weights; a final "
        "pruning step with a small threshold is still needed.",
    ),
    "1.5": (
        False,
        "Soft thresholding is the proximal operator of L1 and shrinks large weights "
        "just as much; it does not remove L1's bias (SCAD, MCP or trimmed L1 address it).",
    ),
    "1.6": (
        True,
        "An L2 norm is zero only when the whole group is zero, so L1 over the group "
        "norms zeroes entire groups.",
    ),
    "1.7": (
        True,
        "The proximity term keeps each update close to the current weights, which "
        "makes the objective decrease more smoothly.",
    ),
    "1.8": (
        True,
        "Easy inputs exit early, which saves computation and avoids overthinking; "
        "the shallow exits also act against overfitting.",
    ),
    "1.9": (
        False,
        "The forward pass and the loss use the quantized weights; only the update is "
        "applied to the full-precision copy.",
    ),
    "1.10": (
        True,
        "Layers differ in how much precision they need; spending bits where they "
        "matter gives higher accuracy at the same size.",
    ),
}

COMPRESS_DISTRIBUTED = {
    "1.1": (
        False,
        "Without error feedback the sign quantization error is thrown away every step and "
        "accuracy drops; 1-bit SGD keeps up with full precision because each worker adds the "
        "error it made to its next gradient.",
    ),
    "1.2": (
        True,
        "e_new = p - sent with p = g + e, so summing over the steps telescopes: sum(sent) + "
        "e_final = sum(g) + e_0. Whatever the compressor drops is only delayed.",
    ),
    "1.3": (
        False,
        "Dropping the unsent entries biases every step; when workers disagree the average of "
        "their top-k vectors is not zero at the optimum, so the run stalls away from it. DGC "
        "accumulates the unsent part locally for this reason.",
    ),
    "1.4": (
        True,
        "Hogwild's analysis needs sparse updates: when each sample touches few coordinates, "
        "processes rarely write the same entry, so almost no update is lost and throughput "
        "grows with the number of processes.",
    ),
    "1.5": (
        False,
        "Stale gradients, contention for the shared weights and conflicting writes mean "
        "asynchronous training has no guarantee of linear speedup (2019 T/F 1.4).",
    ),
    "1.6": (
        False,
        "Scaling the learning rate with the batch works only up to a point (with warm-up, and "
        "per-layer rates as in LARS up to about 32K for ResNet-50); very large batches miss "
        "the minimum and lose test accuracy.",
    ),
    "1.7": (
        False,
        "Ring all-reduce sends about 2 (K-1)/K times the gradient per worker and step: the cost "
        "approaches twice the gradient's size, it does not fall as workers are added.",
    ),
    "1.8": (
        True,
        "l1 recovery from M Gaussian measurements succeeds for s-sparse vectors once M is of "
        "the order of s log(N/s); a dense gradient has no such sparse structure to recover.",
    ),
    "1.9": (
        True,
        "QSGD rounds each |v_i| / ||v|| up or down at random with the probabilities that keep "
        "its mean; more levels s shrink the variance bound min(n/s^2, sqrt(n)/s) ||v||^2 only.",
    ),
    "1.10": (
        False,
        "Without momentum factor masking, the stale momentum of a coordinate that was just "
        "sent keeps pushing it in the next steps; DGC zeroes u and v where it sent.",
    ),
}

_KEYS = {
    "distributed-sparse": DISTRIBUTED_SPARSE,
    "prune-quantize": PRUNE_QUANTIZE,
    "compress-distributed": COMPRESS_DISTRIBUTED,
}


def _table(assignment: str) -> dict[str, tuple[bool, str]]:
    try:
        return _KEYS[assignment]
    except KeyError:
        raise ValueError(f"no true/false questions for {assignment!r}") from None


def tf_answers(assignment: str) -> dict[str, bool]:
    """{"1.1": True/False, ...}: the key of an assignment's true/false questions."""
    return {item: answer for item, (answer, _) in _table(assignment).items()}


def tf_justifications(assignment: str) -> dict[str, str]:
    """{"1.1": "True. ...", ...}: a model justification for each item, for rubrics."""
    return {
        item: f"{'True' if answer else 'False'}. {why}"
        for item, (answer, why) in _table(assignment).items()
    }
