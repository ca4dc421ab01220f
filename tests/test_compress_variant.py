"""effdl.variants_c: assignment C's variants keep their lessons; the key is plain data."""

import json

import numpy as np
import pytest

from effdl import variants_c as vc
from effdl.compression import simulate_topk_hook, topk_compress
from effdl.variants_c import compress_distributed_key, compress_distributed_variant


@pytest.fixture(scope="module")
def canonical():
    return compress_distributed_variant()


@pytest.fixture(scope="module")
def canonical_key(canonical):
    return compress_distributed_key(canonical)


def test_canonical_variant_is_the_hand_picked_numbers(canonical):
    assert canonical["assignment"] == "compress-distributed"
    assert canonical["variant"] == "canonical"
    assert canonical["c2"]["g"] == list(vc._CANONICAL_G)
    assert canonical == compress_distributed_variant(None, "someone")
    assert json.loads(json.dumps(canonical)) == canonical
    # The hand-picked parts pass the checks every drawn variant must pass.
    assert vc._g_problems(np.array(canonical["c2"]["g"])) == []
    dgc = canonical["c2"]["dgc"]
    assert vc._dgc_problems((np.array(dgc["grads"]), dgc["clip_norm"])) == []
    assert vc._quant_problems(np.array(canonical["c3"]["quantize"]["y"])) == []


def test_student_variants_are_deterministic_distinct_and_keep_the_lessons():
    alice = compress_distributed_variant("course-secret", "alice")
    assert alice == compress_distributed_variant("course-secret", "alice")
    bob = compress_distributed_variant("course-secret", "bob")
    assert alice["variant"] != bob["variant"] and alice["c2"]["g"] != bob["c2"]["g"]
    assert compress_distributed_variant("other-secret", "alice")["c2"]["g"] != alice["c2"]["g"]
    c2, c3, c4 = alice["c2"], alice["c3"], alice["c4"]
    assert vc._g_problems(np.array(c2["g"])) == []
    assert vc._dgc_problems((np.array(c2["dgc"]["grads"]), c2["dgc"]["clip_norm"])) == []
    assert vc._quant_problems(np.array(c3["quantize"]["y"])) == []
    assert vc._hook_problems(np.array(c4["grads"])) == []
    rec = c3["recovery"]
    assert vc._cs_problems((rec["s"], rec["seed"])) == []
    assert rec["M_fail"] == 2 * rec["s"]


def test_key_has_the_lessons_in_its_numbers(canonical, canonical_key):
    key = canonical_key
    assert json.loads(json.dumps(key)) == key
    ef = key["c2"]["ef"]["relative_final_distance"]
    assert ef["none"] < vc.PLAIN_REACHED
    for name in ("topk", "onebit"):
        assert ef[name] > vc.EF_STALLED and ef[name + "_ef"] < vc.EF_REACHED
    rec = canonical["c3"]["recovery"]
    errors = key["c3"]["recovery"]["median_error"]["exact"]
    assert errors[str(rec["M_fail"])] > vc.CS_FAILED
    assert errors[str(rec["M_succeed"])] < vc.CS_RECOVERED
    assert set(key["c3"]["recovery"]["median_error"]) == {"exact", "2bit", "4bit", "8bit"}


def test_key_values_come_from_the_reference(canonical, canonical_key):
    key = canonical_key
    g = np.array(canonical["c2"]["g"])
    idx, vals = topk_compress(g, canonical["c2"]["ratio"])
    assert key["c2"]["topk"]["indices"] == idx.tolist() == [1, 5, 10]
    assert key["c2"]["topk"]["values"] == vals.tolist()
    assert key["c2"]["onebit"]["bits"] == (g >= 0).tolist()
    assert key["c2"]["bytes"] == {
        "encoding": key["c2"]["bytes"]["encoding"],
        "dense": 48,
        "topk": 24,
        "onebit": 10,
        "qsgd": 4 + 6,
        "terngrad": 4 + 3,
    }
    assert key["c2"]["dgc_sparsity"] == [0.75, 0.9375, 0.984375, 0.99609375, 0.999, 0.999]
    steps = key["c2"]["dgc"]["steps"]
    assert len(steps) == 4 and all(len(s["indices"]) == 2 for s in steps)
    grads = np.array(canonical["c4"]["grads"])
    want = simulate_topk_hook(grads, canonical["c4"]["ratio"], True)["averaged"]
    np.testing.assert_allclose(key["c4"]["topk_ef"]["averaged"], want, rtol=1e-9, atol=0)
    assert key["c4"]["topk_ef"]["bytes_per_step_per_rank"] == 8 * 4
    x50 = np.array(key["c3"]["ista"]["x_after"]["50"])
    assert x50.shape == (16,)
    assert key["c3"]["train"]["qcs"]["bits_per_step"] < key["c3"]["train"]["sgd"]["bits_per_step"]


def test_key_rejects_other_assignments():
    with pytest.raises(ValueError, match="compress-distributed"):
        compress_distributed_key({"assignment": "distributed-sparse"})
