"""effdl.train.compress_lab: the lab end to end on tiny sizes (tables, plots, JSON)."""

import json

from effdl.train.compress_lab import lab_config, run_compress_distributed_lab


def test_lab_writes_its_tables_plots_and_json(tmp_path):
    cfg = lab_config(quick=True)
    cfg.update(
        c2_steps=200,
        c3_M=[8, 64],
        c3_sparsity=[4],
        c3_bits=[None, 2],
        c3_trials=1,
        qcs_steps=20,
        c4_epochs=1,
        c4_hooks=["allreduce", "topk_ef"],
        c4_start_method="fork",
        c5_n=2000,
        c5_epochs=1,
        c5_procs=[1, 2],
        c5_repeats=1,
        c5_count_updates=1000,
    )
    results = run_compress_distributed_lab(out_dir=tmp_path, log=None, config=cfg)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"results.json", "results.md"} <= names
    assert {
        "c2_error_feedback.png",
        "c3_recovery.png",
        "c3_loss_vs_bits.png",
        "c4_accuracy_vs_bytes.png",
        "c5_hogwild.png",
    } <= names
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["c2"]["rows"] == results["c2"]["rows"]
    rows = {r["run"]: r for r in saved["c2"]["rows"]}
    assert rows["top-k 10%"]["bytes_per_step"] == rows["dense SGD"]["bytes_per_step"] // 5
    assert [r["hook"] for r in saved["c4"]["runs"]] == ["allreduce", "topk_ef"]
    assert len(saved["c5"]["rows"]) == 2 * 2 * 2
    text = (tmp_path / "results.md").read_text()
    for heading in ("## C2", "## C3", "## C4", "## C5"):
        assert heading in text
