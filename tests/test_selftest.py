"""The grader proven on real submissions (issue 7): `effdl selftest`'s fast subset, the
catalogue's coverage of the known mistakes and attacks, and the fixes the selftest led to.

The full selftest (every attack, mutant and correct variant, 20 repeated grades) runs with
`effdl selftest`, or here with EFFDL_SELFTEST_FULL=1.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from autograder import plugin
from autograder.authoring import samples
from autograder.commands import selftest
from autograder.grading import suite
from autograder.grading.intake import load_submission, parse_notebook
from autograder.publishing.svgplot import line_plot
from autograder.sandbox.harness.codec import clean_text, decode, encode

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = selftest.catalogue()

# HOMEWORK.md's list of mistakes real students made, and the issue's extra ones: each names
# the catalogue entries that make it (the `>=` / `>` tie at the percentile is a correct
# variant, never a mistake).
MISTAKES = {
    "gradient collapsed to a scalar": ["worker_gradient_sum_collapse"],
    "y X^-1 instead of X^-1 y": ["closed_form_right_inverse", "closed_form_transposed"],
    "summed instead of averaged": ["server_step_summed"],
    "inverted Bernoulli in TernGrad": ["terngrad_inverted_probability"],
    "one global s instead of per-worker": ["train_global_scaler"],
    "s = T without clipping g": ["train_scaler_without_clip"],
    "first k by index instead of top-k by |w|": ["topk_first_by_index"],
    "(5,) vs (5,1) broadcasting": ["loss_column_broadcast", "train_sparse_column_target"],
    "prox and subgradient together": ["train_sparse_prox_and_subgradient"],
    "trimmed set by |gradient|": ["train_sparse_trimmed_by_gradient"],
    "trimmed set by signed value": ["trimmed_signed_value"],
    "all entries thresholded in trimmed L1": ["trimmed_all_entries"],
    "L1 term scaled by 2 mu": ["train_sparse_l1_two_mu"],
    "per-sample instead of full-batch": ["train_sparse_per_sample", "train_distributed_per_sample"],
    "history of references to one array": ["train_distributed_history_references"],
    "inverted STE zero mask": ["ste_inverted_zero_mask"],
    "backward returns too few values": ["ste_backward_two_values"],
    "divide by zero when max == min": ["ste_divides_by_zero"],
    "code for an old NumPy": ["csc_old_numpy"],
    "sign errors": ["worker_gradient_sign", "loss_grad_sign", "server_step_ascent"],
    "off-by-one steps": ["train_sparse_one_step_short", "train_distributed_off_by_one"],
    "wrong axis": ["server_step_wrong_axis"],
    "sum vs mean": ["loss_mean"],
    "wrong bit width": ["ste_wrong_bit_width", "ste_symmetric_wrong_levels"],
    "deterministic rounding in TernGrad": ["terngrad_rounding"],
    "mask not re-applied": ["finetune_mask_not_reapplied", "finetune_gradient_mask_only"],
    "STE that zeroes gradients": ["ste_backward_zero"],
    "CSC without placeholders": ["csc_no_placeholders"],
    "CSC with trailing placeholders": ["csc_trailing_placeholders"],
    # assignment C (issue 15)
    "top-k by signed value": ["topk_hook_signed"],
    "error feedback residual not added or not stored": [
        "ef_residual_not_added",
        "topk_hook_no_residual",
    ],
    "DGC clipping not scaled by the workers": ["dgc_clip_unscaled"],
    "a random compressor ignoring its generator": ["qsgd_global_rng", "terngrad_hook_global_rng"],
    "one scaler for every rank": ["terngrad_hook_shared_scaler"],
    "bytes counted for the wrong encoding": [
        "topk_hook_counts_values_only",
        "terngrad_hook_byte_per_code",
        "fp16_hook_counts_float32",
    ],
}
# The issue's list of attacks, and the catalogue entries that carry them out.
ATTACKS = {
    "rewriting results or gradebook files": ["rewrite_results", "cli_batch"],
    "atexit and signal handlers": ["atexit_and_signals"],
    "monkeypatching numpy, torch, pytest, json or builtins": ["monkeypatch", "monkeypatch_torch"],
    "importing effdl or reading checks, solutions, other students": ["reads_grader"],
    "sys.exit, os._exit, SystemExit in a graded function": ["exits_in_graded_functions"],
    "an infinite loop": ["infinite_loops"],
    "a memory bomb": ["memory_bomb"],
    "a fork bomb": ["fork_bomb"],
    "a network connection": ["network"],
    "printing megabytes": ["print_flood"],
    "writing outside the work directory": ["write_outside", "disk_flood"],
    "objects with a custom __eq__, __array__ or __float__": ["custom_objects"],
    "a pickle payload": ["pickle_payload"],
    "a symlink or .. inside a zip": ["zip_hostile_entries"],
    "malformed notebook JSON": ["malformed_notebook_json"],
    "5,000 cells": ["five_thousand_cells"],
    "non-UTF-8 bytes": ["non_utf8_bytes"],
    "numpy.py beside the notebook": ["numpy_beside_notebook"],
    # issue 12: an independent attacker against the trust boundary
    "amplification in the trusted process": [
        "oversized_values",
        "forged_notes_flood",
        "forged_event_fields",
    ],
    "one submission stops the class": [
        "batch_oversized_row",
        "batch_deep_output_tree",
        "batch_name_conflict",
        "batch_deep_submission",
    ],
    "the late policy trusts file times": [
        "late_folder_old_times",
        "late_zip_old_times",
        "late_notebook_old_time",
    ],
    "student code reaches the supervisor": [
        "supervisor_stdout",
        "supervisor_memory",
        "supervisor_ptrace",
    ],
    "nondeterminism": ["terngrad_urandom", "train_clock_seed", "coin_flip_answers"],
    "staging crashes: a file and a folder of one name, a folder that flattens onto itself": [
        "zip_file_and_folder_same_name",
        "zip_folder_then_file_same_name",
        "zip_flattens_onto_itself",
        "zip_name_too_long",
    ],
    "another student's notebook without (or with forged) metadata": [
        "another_students_notebook",
        "another_students_notebook_forged_variant",
    ],
    "random bytes as the notebook": ["random_bytes_notebook"],
    # assignment C (issue 15): hooks run in a process group inside the sandbox
    "a hook reaching the network": ["hook_reaches_network"],
    "a hook hanging its process group": ["hook_hangs_group"],
    "a hook reaching the other ranks' memory": ["hook_attacks_peers"],
}


def _names(kind: str) -> set[str]:
    return {s.name for s in CATALOGUE[kind]}


def test_catalogue_covers_every_mistake_and_attack() -> None:
    assert len(CATALOGUE["mutants"]) >= 40
    assert len(CATALOGUE["correct"]) >= 15
    for mistake, names in MISTAKES.items():
        assert set(names) <= _names("mutants"), f"no mutant for: {mistake}"
    for attack, names in ATTACKS.items():
        assert set(names) <= _names("attacks"), f"no attack for: {attack}"


@pytest.mark.parametrize("kind", ["mutants", "correct", "attacks"])
def test_catalogue_entries_are_well_formed(kind: str) -> None:
    checks = {name: {s.id for s in suite.load(name).specs} for name in plugin.names()}
    for sample in CATALOGUE[kind]:
        assert sample.description, f"{sample.path}: no docstring saying what it does"
        unknown = set(sample.expect_lost) - checks[sample.assignment]
        assert not unknown, f"{sample.path}: unknown check ids {unknown}"
        if kind == "mutants":
            assert sample.expect_lost and sample.message_contains, sample.path
        if kind == "correct":
            assert not sample.expect_lost, sample.path
        if kind != "attacks" or sample.field("build", "cell") in ("cell", "cli"):
            source = selftest.Context(Path("/nonexistent")).payload(sample)
            for name in sample.replaces:
                samples.definition_source(source, name)  # raises when it is missing


def test_selftest_fast_subset() -> None:
    """Every quick=1 attack, mutant and correct variant, and repeated grades, 2 at a time."""
    report = selftest.run_selftest(workers=2, quick=True)
    assert report.ok, "selftest fell short:\n" + "\n".join(report.failures)
    assert report.figures["attacks contained"][1] >= 10
    assert report.figures["mutants caught"][1] >= 10
    assert report.figures["correct variants at full marks"][1] >= 8


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("EFFDL_SELFTEST_FULL"), reason="the full selftest: EFFDL_SELFTEST_FULL=1"
)
def test_selftest_full() -> None:
    report = selftest.run_selftest(workers=2)
    assert report.ok, "selftest fell short:\n" + "\n".join(report.failures)
    assert report.seconds < 600


# ----------------------------------------------------------------------------- the fixes
def test_numpy_scalars_keep_their_shape_through_the_harness() -> None:
    """A list of numpy scalars (v.append(M[i, j])) used to come back as 1-element arrays."""
    sent = [np.float64(1.5), 0.0, np.int64(4), np.float32(2.0)]
    got = decode(json.loads(json.dumps(encode(sent))))
    assert np.asarray(got).tolist() == [1.5, 0.0, 4.0, 2.0]
    assert np.shape(decode(json.loads(json.dumps(encode(np.float64(3.0)))))) == ()


def test_huge_integers_and_lone_surrogates_are_data() -> None:
    assert decode(json.loads(json.dumps(encode(-(2**80))))) == -float(2**80)
    assert decode(json.loads(json.dumps(encode(10**400)))) == float("inf")
    text = decode(json.loads(json.dumps("bad \ud800 text")))
    text.encode("utf-8")  # writable as feedback
    assert clean_text("a\udfffb") == "a?b"


def test_plots_of_extreme_values_render() -> None:
    y = np.full(50, 1e308)
    y[::2] = -1e308
    assert "<svg" in line_plot("extreme", {"W": y}, {"ref": np.arange(50.0)})


def test_notebook_with_byte_order_mark_is_read() -> None:
    notes: list[str] = []
    raw = (
        b"\xef\xbb\xbf" + json.dumps({"cells": [{"cell_type": "code", "source": "x = 1"}]}).encode()
    )
    cells, _ = parse_notebook(raw, notes)
    assert cells and cells[0]["source"] == "x = 1" and not notes


def test_zip_of_a_folder_holding_its_own_name(tmp_path: Path) -> None:
    """sub/sub in a zip used to crash the staging (a rename onto the folder itself)."""
    archive = tmp_path / "s.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("sub/sub", "a file named like its folder")
        zf.writestr("sub/distributed-sparse.ipynb", json.dumps({"cells": []}))
    sub = load_submission(archive, "distributed-sparse", tmp_path / "staging")
    assert (sub.files_dir / "sub").read_text() == "a file named like its folder"
    assert sub.notebook_name == "distributed-sparse.ipynb"


def test_check_suite_loads_whole_under_threads() -> None:
    """Threads grading side by side used to see a check module before it was fully loaded."""
    suite._load.cache_clear()
    for name in [m for m in sys.modules if m.startswith("effdl_checks.distributed_sparse")]:
        del sys.modules[name]
    found: list[int] = []
    threads = [
        threading.Thread(target=lambda: found.append(len(suite.load("distributed-sparse").specs)))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(found)) == 1 and found[0] >= 20


def test_results_folder_names_stay_inside_out() -> None:
    from autograder.commands.grade import folder_name

    for hostile in ("..", ".", "../../etc", "a/b", "..\\x", ""):
        name = folder_name(hostile)
        assert name and "/" not in name and "\\" not in name and not name.startswith(".")
    assert folder_name("alice@school.edu") == "alice@school.edu"


def test_older_bubblewrap_layout_grades_the_same(monkeypatch) -> None:
    """Without size-capped tmpfs (bubblewrap < 0.8) /submission and /tmp are disk folders."""
    from autograder import sandbox
    from autograder.course.settings import Course
    from autograder.grading.grade import grade_submission

    if sandbox.backend()[0] != "bwrap":
        pytest.skip("bubblewrap is not usable here")
    from autograder.sandbox import bwrap

    monkeypatch.setattr(bwrap, "sized_tmpfs", lambda: False)
    result = grade_submission(
        ROOT / "solutions" / "distributed-sparse", "distributed-sparse", Course(), student_id="t"
    )
    assert [o.id for o in result.checks if o.status != "passed"] == []
    assert result.sandboxed
