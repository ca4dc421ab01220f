"""Coverage of the hidden checks: for every catalogued wrong rule, the hidden input that tells
it apart from the reference.

Each row names a wrong rule (a mutant of tests/mutants/, by file name), the check that must
catch it, the calls whose inputs tell it apart and why. The test computes both rules on the
trusted side, in this process (tests/inprocess.py runs the calls the way the harness does),
on the inputs the check draws for several submission seeds: with every call answered by
the reference the check passes; with the listed calls answered by the wrong rule it does
not, so the difference is beyond the check's own tolerance. "each" means every listed call
alone tells the rules apart, "together" that the listed calls do so as a group (a statistic
over several calls, or a case whose place among the calls is drawn).

Wrong rules that reach other checks only through the function they break (a wrong
worker_gradient inside train_distributed) are covered here by that function's own check.
The same runs also prove that the drawn inputs keep what the checks rely on: the reference
and every correct variant of tests/correct/ pass on all of them.

Assignment C's hook checks (GROUP_CHECKS) run every call in a real gloo group of 2 or 3
ranks forked from this process (0.3-2 s a call): they run on 3 seeds, the others on 6.
A row of a random check lists calls "together" where the check compares their draws with
each other (two calls from one generator state must agree); a call whose own draws are
judged alone (a birthday test, a law at a given s) can tell a rule apart "each".
"""

from __future__ import annotations

import functools
from pathlib import Path

import inprocess as ip
import pytest

from autograder.commands import selftest

SEEDS = range(6)
FIXED = range(1)  # checks whose inputs do not depend on the seed
GROUP_SEEDS = range(3)  # checks that run process groups (a few seconds per check and seed)
GROUP_CHECKS = {"c4.topk_hook", "c4.terngrad_hook", "c4.counted_hooks"}

A2, A3, A4 = "a2", "a3", "a4"
TERN = ["a2.tern.own_s", "a2.tern.given_s", "a2.tern.same", "a2.tern.other"]
PROBES = ["a4.enc.probe0", "a4.enc.probe1", "a4.enc.probe2"]
FORMULAS = [f"a4.formula.{i}" for i in range(4)]
MAXK = [f"a4.maxk.{i}" for i in range(5)]
L1 = [f"a3.run.l1.{lam:g}" for lam in (0.2, 0.5, 1.0, 2.0)]
PROX = [f"a3.run.prox.{t:g}" for t in (0.004, 0.01, 0.02, 0.04)] + ["a3.run.prox_lam"]
CLIPS = [f"a2.train.clip{T}" for T in (1, 2, 5, 10)]
EF_STEP = [f"c2.ef_step.{name}" for name in ("keep", "grid", "sign", "column")]
ONEBIT = ["c2.onebit.own", "c2.onebit.probe", "c2.onebit.positive"]
QSGD_STATE = ["c2.qsgd.a", "c2.qsgd.again", "c2.qsgd.b"]  # a and again: one generator state
TOPK = ["c2.topk.own", "c2.topk.ties", "c2.topk.column", "c2.topk.all"]
WARMUP = ["c2.warmup.0", "c2.warmup.1", "c2.warmup.2", "c2.warmup.3", "c2.warmup.8"]
QUANT = [f"c3.quant.{n}" for n in ("own", "bits1", "bits2", "bits4", "clipped", "column")]
ISTA_RUNS = ["c3.ista.own1", "c3.ista.own5", "c3.ista.own50", "c3.ista.x0", "c3.ista.L"]
TOPK_HOOK = ["c4.topk.ef", "c4.topk.noef", "c4.topk.three"]
TERN_HOOK = ["c4.tern.a", "c4.tern.again", "c4.tern.b"]  # a and again: one generator seed
UPDATES = ["c5.update.0", "c5.update.1", "c5.update.2"]

# wrong rule: (check, calls that tell it apart, "each" or "together", why those inputs)
TABLE: dict[str, tuple[str, list[str], str, str]] = {
    # ---------------------------------------------------------------- distributed-sparse
    "clip_by_norm": (
        "a2.clip_gradient",
        ["a2.clip.1", "a2.clip.2"],
        "each",
        "entries beyond T on both sides and inside: the norm-scaled vector differs",
    ),
    "clip_one_sided": (
        "a2.clip_gradient",
        ["a2.clip.1", "a2.clip.2"],
        "each",
        "an entry above T and one below -T",
    ),
    "closed_form_right_inverse": (
        "a2.closed_form",
        ["a2.closed_form.probe"],
        "each",
        "an asymmetric hidden X: y X^-1 != X^-1 y by >= 0.1",
    ),
    "closed_form_transposed": (
        "a2.closed_form",
        ["a2.closed_form.probe"],
        "each",
        "an asymmetric hidden X: X^-T y != X^-1 y by >= 0.1",
    ),
    "csc_ignores_pe": (
        "a4.csc_encode",
        ["a4.enc.lecture", "a4.enc.pe"],
        "each",
        "n_pe > 1: the other PEs' rows hold nonzeros",
    ),
    "csc_pe_blocks": (
        "a4.csc_encode",
        ["a4.enc.lecture", "a4.enc.pe"],
        "each",
        "n_pe > 1 and pe's rows interleaved with the others'",
    ),
    "csc_pe_counts_other_rows": (
        "a4.csc_encode",
        ["a4.enc.lecture", "a4.enc.pe"],
        "each",
        "zeros and nonzeros of other PEs' rows between two of this PE's entries",
    ),
    "csc_absolute_rows": (
        "a4.csc_encode",
        PROBES,
        "each",
        "columns whose entries do not start at row 0",
    ),
    "csc_formula_values_only": (
        "a4.size_formula",
        FORMULAS,
        "together",
        "hidden (M, N, K) with K > 0",
    ),
    "csc_max_k_not_strict": (
        "a4.max_k",
        MAXK,
        "together",
        "(M, N) where some K makes CSC exactly as large as dense",
    ),
    "csc_no_placeholders": (
        "a4.csc_encode",
        PROBES,
        "together",
        "runs of more than 2^b - 1 zeros before a nonzero",
    ),
    "csc_old_numpy": ("a4.csc_encode", PROBES, "each", "any matrix: np.int raises"),
    "csc_placeholder_off_by_one": (
        "a4.csc_encode",
        PROBES,
        "together",
        "runs of more than 2^b - 1 zeros before a nonzero",
    ),
    "csc_pointer_counts": ("a4.csc_encode", PROBES, "each", "any matrix with 2+ columns"),
    "csc_pointer_ends": ("a4.csc_encode", PROBES, "each", "any matrix: p[0] is not 0"),
    "csc_storage_index_value_width": (
        "a4.csc_storage_bits",
        ["a4.bits.probe"],
        "each",
        "a hidden value width != the index width",
    ),
    "csc_storage_pointer_from_data": (
        "a4.csc_storage_bits",
        ["a4.bits.probe"],
        "each",
        "a hidden sparse matrix: its own pointers need fewer bits",
    ),
    "csc_trailing_placeholders": (
        "a4.csc_encode",
        PROBES,
        "together",
        "a column ending in more than 2^b - 1 zeros",
    ),
    "loss_column_broadcast": ("a3.loss_and_grad", ["a3.lg.probe"], "each", "hidden data, W"),
    "loss_grad_sign": ("a3.loss_and_grad", ["a3.lg.probe"], "each", "hidden data, W"),
    "loss_mean": ("a3.loss_and_grad", ["a3.lg.probe"], "each", "hidden data, W"),
    "server_step_ascent": ("a2.server_step", ["a2.server.array"], "each", "hidden W and grads"),
    "server_step_summed": ("a2.server_step", ["a2.server.array"], "each", "hidden W and grads"),
    "server_step_wrong_axis": (
        "a2.server_step",
        ["a2.server.array"],
        "each",
        "hidden grads whose row and column means differ by >= 0.5",
    ),
    "soft_threshold_hard": (
        "a3.soft_threshold",
        ["a3.soft.0", "a3.soft.1"],
        "each",
        "entries above t, which must shrink",
    ),
    "soft_threshold_unsigned": (
        "a3.soft_threshold",
        ["a3.soft.0", "a3.soft.1"],
        "each",
        "a negative entry below -t",
    ),
    "terngrad_counter_hash": (
        "a2.terngrad",
        TERN,
        "together",
        "two calls with one generator state: the counter moved on",
    ),
    "terngrad_ignores_given_s": (
        "a2.terngrad",
        ["a2.tern.given_s"],
        "each",
        "a given s = 5 above max |g| = 4",
    ),
    "terngrad_inverted_probability": (
        "a2.terngrad",
        TERN,
        "together",
        "keep counts of entries with p = 0.75, 0.25, 0.125",
    ),
    "terngrad_reuses_draws": (
        "a2.terngrad",
        ["a2.tern.wide"],
        "each",
        "200 draws of 400 entries with p in [0.05, 0.95]: any repeated draw",
    ),
    "terngrad_keeps_slightly_more": (
        "a2.terngrad",
        ["a2.tern.wide"],
        "each",
        "80,000 keeps of entries with p in [0.05, 0.95]: a bias of 0.015 shared by all",
    ),
    "terngrad_reuses_draws_eight": (
        "a2.terngrad",
        ["a2.tern.wide"],
        "each",
        "200 draws of 400 entries with p in [0.05, 0.95]: any repeated draw",
    ),
    "terngrad_rounding": ("a2.terngrad", TERN, "together", "identical draws; p in (0, 1)"),
    "terngrad_sigma_delta": (
        "a2.terngrad",
        TERN,
        "together",
        "pairs of consecutive draws: both dropped at p = 0.75 never",
    ),
    "terngrad_weyl_counter": (
        "a2.terngrad",
        TERN,
        "together",
        "pairs of consecutive draws, and the same-state calls",
    ),
    "tf_two_flipped": ("a1.true_false", ["a1.tf"], "each", "the key"),
    "topk_first_by_index": (
        "a3.project_top_k",
        ["a3.topk.0"],
        "each",
        "distinct magnitudes whose top k is not the first k",
    ),
    "topk_keeps_ties": (
        "a3.project_top_k",
        ["a3.topk.1", "a3.topk.2"],
        "each",
        "a tie at the k-th place; all magnitudes equal",
    ),
    "topk_signed": (
        "a3.project_top_k",
        ["a3.topk.0"],
        "each",
        "negative entries among the k largest |W|",
    ),
    "train_clip_after_average": (
        "a2.train_clip",
        CLIPS,
        "each",
        "the student's data: clipped worker gradients differ",
    ),
    "train_distributed_history_references": (
        "a2.train_plain",
        ["a2.train.probe"],
        "each",
        "a hidden run",
    ),
    "train_distributed_losses_before_step": (
        "a2.train_plain",
        ["a2.train.probe"],
        "each",
        "a hidden run",
    ),
    "train_distributed_off_by_one": ("a2.train_plain", ["a2.train.probe"], "each", "a hidden run"),
    "train_distributed_per_sample": ("a2.train_plain", ["a2.train.probe"], "each", "a hidden run"),
    "train_global_scaler": (
        "a2.train_terngrad",
        ["a2.train.tern"],
        "each",
        "workers whose max |g| differ",
    ),
    "train_scaler_without_clip": (
        "a2.train_tern_clip",
        ["a2.train.tern_clip"],
        "each",
        "|g| > T at the start: p > 1",
    ),
    "train_sparse_column_target": ("a3.train_gd", ["a3.run.probe_gd"], "each", "a hidden run"),
    "train_sparse_l1_sign_of_new_point": ("a3.train_l1", L1, "each", "the student's data"),
    "train_sparse_l1_two_mu": ("a3.train_l1", L1, "each", "the student's data"),
    "train_sparse_one_step_short": ("a3.train_gd", ["a3.run.probe_gd"], "each", "a hidden run"),
    "train_sparse_per_sample": ("a3.train_gd", ["a3.run.probe_gd"], "each", "a hidden run"),
    "train_sparse_prox_and_subgradient": ("a3.train_prox", PROX, "each", "the student's data"),
    "train_sparse_regularized_loss": (
        "a3.train_trimmed",
        ["a3.run.probe_trim"],
        "each",
        "a hidden run",
    ),
    "train_sparse_threshold_is_lambda": (
        "a3.train_prox",
        ["a3.run.prox_lam"],
        "each",
        "the run given lam instead of t",
    ),
    "train_sparse_trimmed_threshold_is_lambda": (
        "a3.train_trimmed",
        ["a3.run.trimmed_lam"],
        "each",
        "the trimmed run given lam instead of t",
    ),
    "train_sparse_trimmed_by_gradient": (
        "a3.train_trimmed",
        ["a3.run.probe_trim"],
        "each",
        "a hidden run decided by a margin",
    ),
    "train_tern_invented_losses": (
        "a2.train_terngrad",
        ["a2.train.tern"],
        "each",
        "the losses of every run, recomputed from its weights",
    ),
    "train_tern_keep_half": (
        "a2.train_terngrad",
        ["a2.train.tern"],
        "each",
        "the keeps decoded from every step of 200 runs, against |g_ij| / s",
    ),
    "train_tern_keep_sq": (
        "a2.train_terngrad",
        ["a2.train.tern"],
        "each",
        "the keeps decoded from every step of 200 runs, against |g_ij| / s",
    ),
    "train_tern_keep_sqrt": (
        "a2.train_terngrad",
        ["a2.train.tern"],
        "each",
        "the keeps decoded from every step of 200 runs, against |g_ij| / s",
    ),
    "trimmed_all_entries": (
        "a3.trimmed_soft_threshold",
        ["a3.trim.0", "a3.trim.1", "a3.trim.2", "a3.trim.3"],
        "each",
        "fewer than d entries to threshold",
    ),
    "trimmed_ignores_n_trim": (
        "a3.trimmed_soft_threshold",
        ["a3.trim.0", "a3.trim.3"],
        "each",
        "n_trim != 3",
    ),
    "trimmed_keeps_ties": (
        "a3.trimmed_soft_threshold",
        ["a3.trim.1", "a3.trim.2"],
        "each",
        "a tie at the n_trim-th place; all magnitudes equal",
    ),
    "trimmed_largest": (
        "a3.trimmed_soft_threshold",
        ["a3.trim.0", "a3.trim.3"],
        "each",
        "distinct magnitudes",
    ),
    "trimmed_signed_value": (
        "a3.trimmed_soft_threshold",
        ["a3.trim.0"],
        "each",
        "a large negative entry",
    ),
    "trimmed_strict_below_next": (
        "a3.trimmed_soft_threshold",
        ["a3.trim.1", "a3.trim.2"],
        "each",
        "a tie at the n_trim-th place; all magnitudes equal",
    ),
    "worker_gradient_no_factor_two": (
        "a2.worker_gradient",
        ["a2.grad.3"],
        "each",
        "a hidden point with a residual >= 0.5",
    ),
    "worker_gradient_sign": ("a2.worker_gradient", ["a2.grad.3"], "each", "a hidden point"),
    "worker_gradient_sum_collapse": ("a2.worker_gradient", ["a2.grad.3"], "each", "a hidden point"),
    # ---------------------------------------------------------------- prune-quantize
    "finetune_eval_mode": ("b3.finetune_trains", ["b3.finetune"], "each", "one epoch"),
    "finetune_gradient_mask_only": (
        "b3.finetune_keeps_zeros",
        ["b3.finetune"],
        "each",
        "an optimizer with momentum already",
    ),
    "finetune_mask_not_reapplied": (
        "b3.finetune_keeps_zeros",
        ["b3.finetune"],
        "each",
        "pruned weights with gradients",
    ),
    "finetune_mask_only_at_end": ("b3.finetune_trains", ["b3.finetune"], "each", "one epoch"),
    "finetune_no_zero_grad": ("b3.finetune_trains", ["b3.finetune"], "each", "4 batches"),
    "finetune_two_epochs": ("b3.finetune_trains", ["b3.finetune"], "each", "one epoch"),
    "finetune_returns_batch_sum": ("b3.finetune_trains", ["b3.finetune"], "each", "4 batches"),
    "finetune_returns_nothing": ("b3.finetune_trains", ["b3.finetune"], "each", "the return"),
    "finetune_ignores_prune_flag": (
        "b3.finetune_trains",
        ["b3.finetune.no_mask"],
        "each",
        "prune=False on a pruned net: the pruned weights must train",
    ),
    "global_prune_nonzero_fraction": (
        "b3.global_prune",
        ["b3.global.pruned.60"],
        "each",
        "a net 40% pruned before: q% of the nonzeros is far more",
    ),
    "global_prune_every_parameter": (
        "b3.global_prune",
        ["b3.global.60"],
        "each",
        "biases and batch-norm weights",
    ),
    "global_prune_layer_by_layer": (
        "b3.global_prune",
        ["b3.global.60"],
        "each",
        "layers at different scales",
    ),
    "global_prune_with_shortcuts": (
        "b3.global_prune",
        ["b3.global.60"],
        "each",
        "id_mapping layers",
    ),
    "prune_bias_too": (
        "b3.prune_by_percentage",
        ["b3.layer.linear.50"],
        "each",
        "a Linear layer's small biases",
    ),
    "prune_complement": (
        "b3.prune_by_percentage",
        ["b3.layer.conv.30", "b3.layer.conv.70"],
        "each",
        "q != 50",
    ),
    "prune_largest": ("b3.prune_by_percentage", ["b3.layer.conv.30"], "each", "any layer"),
    "prune_nonzero_fraction": (
        "b3.prune_by_percentage",
        ["b3.layer.pruned.50"],
        "each",
        "a layer 40% pruned before: q% of the nonzeros is far more",
    ),
    "prune_not_in_place": ("b3.prune_by_percentage", ["b3.layer.conv.30"], "each", "any layer"),
    "prune_q_as_fraction": ("b3.prune_by_percentage", ["b3.layer.conv.30"], "each", "q >= 1"),
    "prune_signed_percentile": (
        "b3.prune_by_percentage",
        ["b3.layer.conv.30"],
        "each",
        "weights of both signs",
    ),
    "ste_backward_clamped": (
        "b4.ste_backward",
        ["b4.ste.backward_large"],
        "each",
        "upstream gradients beyond [-1, 1]",
    ),
    "ste_backward_hardtanh": (
        "b4.ste_backward",
        ["b4.ste.backward_large"],
        "each",
        "weights beyond [-1, 1]",
    ),
    "ste_backward_two_values": ("b4.ste_backward", ["b4.ste.backward"], "each", "any"),
    "ste_backward_zero": ("b4.ste_backward", ["b4.ste.backward"], "each", "any"),
    "ste_bit_none_quantizes": ("b4.ste_guards", ["b4.ste.none"], "each", "bit=None"),
    "ste_divides_by_zero": (
        "b4.ste_guards",
        ["b4.ste.all_equal"],
        "each",
        "equal nonzero weights: alpha = 0",
    ),
    "ste_inverted_zero_mask": ("b4.ste_zeros", ["b4.ste.zeros3"], "each", "a sparse tensor"),
    "ste_not_scaled_back": ("b4.ste_forward", ["b4.ste.asym3"], "each", "a dense tensor"),
    "ste_overwrites_weight": ("b4.ste_forward", ["b4.ste.asym3"], "each", "w read after forward"),
    "ste_returns_float64": ("b4.ste_forward", ["b4.ste.asym3"], "each", "a float32 w"),
    "ste_symmetric_wrong_levels": ("b4.ste_symmetric", ["b4.ste.sym3"], "each", "bit 3"),
    "ste_wrong_bit_width": ("b4.ste_forward", ["b4.ste.asym3"], "each", "a dense tensor"),
    "ste_range_with_zeros_restored": (
        "b4.ste_zeros",
        ["b4.ste.zeros_one_sign3"],
        "each",
        "nonzero weights of one sign: 0 is outside their range",
    ),
    "ste_zeros_not_kept": ("b4.ste_zeros", ["b4.ste.zeros3"], "each", "a sparse tensor"),
    "tf_b1_flipped": ("b1.true_false", ["b1.tf"], "each", "the key"),
}
# A mutant's name is unique within its assignment only (terngrad_reuses_draws is in A and
# C): compress-distributed's rows are a table of their own.
TABLE_C: dict[str, tuple[str, list[str], str, str]] = {
    "qsgd_rounds_up_slightly_more": (
        "c2.qsgd",
        ["c2.qsgd.wide"],
        "each",
        "80,000 rounding-ups of a wide v: a bias of 0.02 shared by all",
    ),
    "quantize_range_after_clipping": (
        "c3.uniform_quantize",
        ["c3.quant.roomy"],
        "each",
        "a given R above max |y|: the end levels are -R and R",
    ),
    "terngrad_probability_not_capped": (
        "c2.terngrad",
        ["c2.tern.small_s"],
        "each",
        "a given s below max |g|: the probability min(|g_j| / s, 1) caps at 1",
    ),
    "clip_elementwise": (
        "c2.clip_by_norm",
        ["c2.clip.0"],
        "each",
        "a gradient longer than the threshold: clipping entries is not scaling the vector",
    ),
    "dgc_clip_unscaled": (
        "c2.dgc_step",
        ["c2.dgc.own", "c2.dgc.probe"],
        "each",
        "worker gradients longer than clip_norm / sqrt(n_workers) but not than clip_norm",
    ),
    "dgc_sparsity_late": (
        "c2.dgc_sparsity",
        WARMUP,
        "each",
        "epochs inside the warm-up (the default's, and a drawn warm-up's last)",
    ),
    "dgc_state_in_place": (
        "c2.dgc_step",
        ["c2.dgc.own", "c2.dgc.probe"],
        "each",
        "the fixture compares u and v with the copies it kept",
    ),
    "ef_compress_twice": (
        "c2.error_feedback_step",
        EF_STEP,
        "each",
        "a compressor that records what it is handed: two calls in one step",
    ),
    "ef_residual_in_place": (
        "c2.error_feedback_step",
        EF_STEP,
        "each",
        "e compared with its copy after the step",
    ),
    "ef_residual_not_added": (
        "c2.error_feedback_step",
        EF_STEP,
        "each",
        "a nonzero residual: the compressor must be handed g + e, not g",
    ),
    "fp16_hook_counts_float32": (
        "c4.counted_hooks",
        ["c4.count.fp16"],
        "each",
        "the fp16 hook's bytes per step: 4 n counted instead of 2 n",
    ),
    "fp16_hook_reduces_float32": (
        "c4.counted_hooks",
        ["c4.count.fp16"],
        "each",
        "3-decimal gradients whose float32 means are not float16 numbers: no fp16 result",
    ),
    "hogwild_writes_band": (
        "c5.sgd_update",
        ["c5.update.2", "c5.update.reads"],
        "each",
        "idx over two pages, a read-only one between; signalling NaNs outside idx: the "
        "stretch min(idx)..max(idx) is written",
    ),
    "hogwild_returns_copy": (
        "c5.sgd_update",
        UPDATES,
        "each",
        "the shared weights after the update: left unchanged",
    ),
    "hogwild_reads_every_coordinate": (
        "c5.sgd_update",
        ["c5.update.reads"],
        "each",
        "NaN outside idx during the call: a read of them makes w[idx] NaN",
    ),
    "hogwild_wrong_sign": (
        "c5.sgd_update",
        UPDATES,
        "each",
        "a sample with a nonzero gradient: the sample's coordinates move the wrong way",
    ),
    "ista_no_refusal": (
        "c3.ista",
        ["c3.ista.refuse"],
        "each",
        "a step above 1/L, which must raise",
    ),
    "ista_threshold_lam": (
        "c3.ista",
        ISTA_RUNS,
        "each",
        "runs with a step t != 1: the threshold lam t differs from lam",
    ),
    "lipschitz_not_squared": (
        "c3.lipschitz_constant",
        ["c3.lip.own", "c3.lip.tall", "c3.lip.wide"],
        "each",
        "matrices whose largest singular value is not 1: its square differs",
    ),
    "measure_unquantized": (
        "c3.qcs_measure",
        ["c3.measure.own", "c3.measure.probe"],
        "each",
        "measurements Phi g that are not quantizer levels",
    ),
    "onebit_tensor_scale": (
        "c2.onebit_compress",
        ONEBIT,
        "each",
        "'+' and '-' groups whose mean magnitudes differ",
    ),
    "onebit_zero_in_minus": (
        "c2.onebit_compress",
        ONEBIT,
        "each",
        "an entry equal to 0, which belongs to the '+' group",
    ),
    "qsgd_global_rng": (
        "c2.qsgd",
        QSGD_STATE,
        "together",
        "a and again start from one generator state: draws not taken from it differ",
    ),
    "qsgd_max_scale": (
        "c2.qsgd",
        ["c2.qsgd.s1", "c2.qsgd.wide"],
        "each",
        "a column v at s = 1 and a wide v: values on max|v| levels, not ||v||_2 ones",
    ),
    "qsgd_reuses_draws": (
        "c2.qsgd",
        ["c2.qsgd.wide"],
        "each",
        "200 draws of a wide v: repeated draws (the birthday test)",
    ),
    "qsgd_shared_uniform": (
        "c2.qsgd",
        ["c2.qsgd.s1", "c2.qsgd.wide"],
        "each",
        "one uniform for all entries: a draw's entries are not independent",
    ),
    "quantize_floor": (
        "c3.uniform_quantize",
        QUANT,
        "each",
        "values above the midpoint of two levels",
    ),
    "quantize_spacing": (
        "c3.uniform_quantize",
        QUANT,
        "each",
        "values between -R and R: levels 2R / 2^b apart are other levels",
    ),
    "ring_allgather_k": (
        "c4.ring_wire_bytes",
        ["c4.ring.3", "c4.ring.4"],
        "each",
        "all-gathers, of several ranks and of one: K - 1 payloads",
    ),
    "terngrad_hook_byte_per_code": (
        "c4.terngrad_hook",
        TERN_HOOK,
        "each",
        "every run's bytes per step: 4 + n, not 4 + ceil(n / 4)",
    ),
    "terngrad_hook_keeps_slightly_more": (
        "c4.terngrad_hook",
        ["c4.tern.wide"],
        "each",
        "76,200 random keeps of the wide run, pooled with runs a and b: a bias of 0.05 shared",
    ),
    "terngrad_hook_global_rng": (
        "c4.terngrad_hook",
        TERN_HOOK,
        "together",
        "a and again seed state.generator alike: draws from torch's global one differ",
    ),
    "terngrad_hook_reuses_draws": (
        "c4.terngrad_hook",
        ["c4.tern.wide"],
        "each",
        "steps of a wide bucket: two with identical keeps (the birthday test)",
    ),
    "terngrad_hook_shared_scaler": (
        "c4.terngrad_hook",
        ["c4.tern.a", "c4.tern.wide"],
        "each",
        "ranks whose scalers differ: averages their own scalers cannot give",
    ),
    "terngrad_inverted": (
        "c2.terngrad",
        ["c2.tern.given_s"],
        "each",
        "keep frequencies at a given s, with p away from 1/2: 1 - |g_j| / s",
    ),
    "terngrad_keeps_slightly_more": (
        "c2.terngrad",
        ["c2.tern.wide"],
        "each",
        "80,000 keeps of entries with p in [0.05, 0.95]: a bias of 0.02 shared by all",
    ),
    "terngrad_reuses_draws": (
        "c2.terngrad",
        ["c2.tern.wide"],
        "each",
        "200 draws of a wide g: repeated draws (the birthday test)",
    ),
    "tf_all_true": ("c1.true_false", ["c1.tf"], "each", "the key"),
    "topk_abs_values": (
        "c2.topk_compress",
        TOPK,
        "each",
        "negative entries among the k largest |g_i|",
    ),
    "topk_first_k": (
        "c2.topk_compress",
        TOPK[:3],
        "each",
        "k < n, and the k largest |g_i| are not the first k",
    ),
    "topk_floor_k": (
        "c2.topk_compress",
        ["c2.topk.ties", "c2.topk.column"],
        "each",
        "ratio * n not a whole number: floor and ceiling differ",
    ),
    "topk_hook_counts_values_only": (
        "c4.topk_hook",
        TOPK_HOOK,
        "each",
        "bytes per step: 4 k counted instead of 8 k",
    ),
    "topk_hook_no_residual": (
        "c4.topk_hook",
        ["c4.topk.ef", "c4.topk.three"],
        "each",
        "error feedback on, several steps: the dropped mass must come back",
    ),
    "topk_hook_floor_k": (
        "c4.topk_hook",
        ["c4.topk.three"],
        "each",
        "22 entries at ratio 0.2: k = ceil(4.4) = 5, a floor sends 4",
    ),
    "topk_hook_signed": (
        "c4.topk_hook",
        TOPK_HOOK,
        "each",
        "negative entries among the k largest |p_i|",
    ),
}
FIXED_CHECKS = {"b3.finetune_trains", "b3.finetune_keeps_zeros", "a1.true_false", "b1.true_false"}
FIXED_CHECKS |= {"a2.terngrad", "a2.train_terngrad", "a2.train_tern_clip", "a2.train_clip"}
FIXED_CHECKS |= {"a3.train_l1", "a3.train_prox", "c1.true_false"}

ASSIGNMENTS = {"a": "distributed-sparse", "b": "prune-quantize", "c": "compress-distributed"}
MUTANTS = {(s.assignment, s.name): s for a in ASSIGNMENTS.values() for s in selftest.mutants(a)}
CORRECT = [s for name in ASSIGNMENTS.values() for s in selftest.correct_variants(name)]


def _assignment(check: str) -> str:
    return ASSIGNMENTS[check[0]]


# (assignment, mutant name) -> its row
ROWS = {(_assignment(row[0]), name): row for t in (TABLE, TABLE_C) for name, row in t.items()}


def _seeds(check: str, seeds: range) -> range:
    """The submission seeds a check runs on here."""
    if check in FIXED_CHECKS:
        return FIXED
    return GROUP_SEEDS if check in GROUP_CHECKS else seeds


@functools.cache
def _reference(assignment: str, check: str, seed: int) -> tuple[float, str]:
    """The check's fraction and message with every call answered by the reference (computed
    once per check and seed: many rows share them, and a process-group check takes seconds)."""
    return ip.check_fraction(assignment, check, seed, ip.reference_namespace(assignment))


def test_the_table_covers_every_mutant() -> None:
    missing = sorted(set(MUTANTS) - set(ROWS))
    assert not missing, f"no row in the coverage table for {missing}"
    for key, (check, _, _, _) in ROWS.items():
        assert key in MUTANTS, f"{key}: no such mutant (a row in the wrong table?)"
        assert check in MUTANTS[key].expect_lost, f"{key}: {check} is not in its expect_lost"


@pytest.mark.parametrize("key", sorted(ROWS), ids="/".join)
def test_the_hidden_input_tells_the_wrong_rule_apart(key: tuple[str, str]) -> None:
    check, calls, how, _why = ROWS[key]
    assignment, name = key
    ref = ip.reference_namespace(assignment)
    groups = [[c] for c in calls] if how == "each" else [calls]
    for seed in _seeds(check, SEEDS):
        fraction, message = _reference(assignment, check, seed)
        assert fraction == 1.0, f"the reference fails {check} at seed {seed}:\n{message}"
        for group in groups:
            wrong = ip.catalogue_namespace(assignment, MUTANTS[key].path)
            fraction, _ = ip.check_fraction(assignment, check, seed, ref, wrong, set(group))
            assert fraction < 1.0, f"{name}: {group} does not tell it apart at seed {seed}"


def _checks_of(sample) -> list[str]:
    functions = set(sample.replaces)
    from autograder.grading import suite

    return [s.id for s in suite.load(sample.assignment).specs if s.function in functions]


@pytest.mark.parametrize("sample", CORRECT, ids=lambda s: f"{s.assignment}/{s.name}")
def test_correct_variants_pass_on_every_drawn_input(sample) -> None:
    right = ip.catalogue_namespace(sample.assignment, sample.path)
    ref = ip.reference_namespace(sample.assignment)
    for check in _checks_of(sample):
        for seed in _seeds(check, range(4)):
            fraction, message = ip.check_fraction(sample.assignment, check, seed, ref, right)
            assert fraction == 1.0, f"{sample.name} loses {check} at seed {seed}:\n{message}"


def test_the_table_rows_say_why(tmp_path: Path) -> None:
    assert all(why and how in ("each", "together") for _, _, how, why in ROWS.values())
