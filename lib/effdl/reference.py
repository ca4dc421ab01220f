"""Assignment B's answer key: the variant's parameters, the true/false key, and the published
reference numbers of the course's pretrained CIFAR-10 ResNet-20.

The accuracies come from several students' recorded runs on the instructors' checkpoint; runs
on other data (the bundled digits) give other numbers with the same trends, which is why they
are references for the hand-graded tables, not autograded values.
"""

from __future__ import annotations

from effdl.truefalse import tf_answers

CIFAR10_REFERENCE = {
    "checkpoint": "the course's pretrained ResNet-20 (test accuracy 91.51%)",
    "dense_accuracy": 0.9151,
    "prune_per_layer_no_finetune": {"30": 0.9028, "50": 0.8210, "70": 0.4204, "80": 0.1003},
    "prune_80_finetune_20_epochs": 0.880,
    "iterative_global_prune_80": 0.884,
    "quantized_no_finetune": {"6": 0.9145, "5": 0.9112, "4": 0.8972, "3": 0.7662, "2": 0.0899},
    "quantized_after_20_epochs_qat": {"4": 0.914, "3": 0.907, "2": 0.860},
    "resnet20_from_scratch_he_et_al": 0.9125,
}


def prune_quantize_key(variant: dict) -> dict:
    """The answer key of an assignment B variant, as JSON-serializable data."""
    if variant.get("assignment") != "prune-quantize":
        raise ValueError(f"not a prune-quantize variant: {variant.get('assignment')!r}")
    return {
        "assignment": "prune-quantize",
        "variant": variant["variant"],
        "tf": tf_answers("prune-quantize"),
        "parameters": {k: variant[k] for k in ("prune_qs", "final_q", "nbits", "qat_bits", "seed")},
        "cifar10_reference": CIFAR10_REFERENCE,
        "graded_functions": [
            "prune_by_percentage",
            "finetune_after_prune",
            "global_prune_by_percentage",
            "STE (FP_layers.py)",
            "TF_ANSWERS",
        ],
    }
