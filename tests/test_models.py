"""effdl.models: ResNet-20's layout matches the course's checkpoints; FP layers quantize."""

import inspect
import textwrap

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from effdl import models, quant
from effdl.models import FP_Conv, FP_Linear, ResNetCIFAR
from effdl.quant import quantize

BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


@pytest.fixture(autouse=True, scope="module")
def one_cpu_thread():
    """Small tensors: one torch thread is as fast, and much faster on a busy shared machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def expected_shapes() -> dict[str, tuple]:
    """The course's ResNet-20 state dict, written out from its description."""
    shapes = {"head_conv.0.conv.weight": (16, 3, 3, 3)}
    shapes.update({f"head_conv.1.{k}": (16,) if k != "num_batches_tracked" else () for k in BN})
    in_chs = 16
    for i in range(9):
        out_chs = (16, 32, 64)[i // 3]
        prefix = f"body_op.{i}"
        shapes[f"{prefix}.conv1.0.conv.weight"] = (out_chs, in_chs, 3, 3)
        shapes[f"{prefix}.conv2.0.conv.weight"] = (out_chs, out_chs, 3, 3)
        parts = ["conv1", "conv2"]
        if i in (3, 6):
            shapes[f"{prefix}.id_mapping.0.conv.weight"] = (out_chs, in_chs, 1, 1)
            parts.append("id_mapping")
        for part in parts:
            for k in BN:
                shapes[f"{prefix}.{part}.1.{k}"] = (out_chs,) if k != "num_batches_tracked" else ()
        in_chs = out_chs
    shapes["final_fc.linear.weight"] = (10, 64)
    shapes["final_fc.linear.bias"] = (10,)
    return shapes


def test_state_dict_keys_and_shapes():
    state = ResNetCIFAR().state_dict()
    expected = expected_shapes()
    assert len(state) == len(expected) == 128
    assert set(state) == set(expected)
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key


def test_parameter_count():
    assert sum(p.numel() for p in ResNetCIFAR().parameters()) == 272_474


def test_course_checkpoint_loads_strictly_also_into_quantized_model():
    torch.manual_seed(0)
    # A checkpoint in the course's layout, made from the expected shapes alone.
    ckpt = {k: torch.randn(s) if s else torch.tensor(7) for k, s in expected_shapes().items()}
    for k in ckpt:
        if k.endswith("running_var"):
            ckpt[k] = ckpt[k].abs() + 0.5
    for nbits in (None, 4):
        net = ResNetCIFAR(Nbits=nbits)
        result = net.load_state_dict(ckpt, strict=True)
        assert not result.missing_keys and not result.unexpected_keys
        assert torch.equal(
            net.body_op[3].id_mapping[0].conv.weight, ckpt["body_op.3.id_mapping.0.conv.weight"]
        )


def test_convs_have_no_bias():
    for name, module in ResNetCIFAR().named_modules():
        if isinstance(module, nn.Conv2d):
            assert module.bias is None, name


@pytest.mark.parametrize("size", [8, 32])
def test_forward_any_input_size(size):
    net = ResNetCIFAR().eval()
    with torch.no_grad():
        out = net(torch.randn(2, 3, size, size))
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()


def test_nbits_on_body_layers_only():
    net = ResNetCIFAR(Nbits=3, symmetric=True)
    wrappers = [(n, m) for n, m in net.named_modules() if isinstance(m, (FP_Conv, FP_Linear))]
    assert len(wrappers) == 1 + 18 + 2 + 1
    for name, module in wrappers:
        if name.startswith("body_op"):
            assert module.Nbits == 3 and module.symmetric is True, name
        else:
            assert module.Nbits is None, name


def test_quantized_forward_uses_quantized_weights():
    torch.manual_seed(0)
    quantized = ResNetCIFAR(Nbits=2).eval()
    reference = ResNetCIFAR().eval()
    state = quantized.state_dict()
    for key, value in state.items():
        if key.startswith("body_op") and key.endswith("conv.weight"):
            state[key] = quantize(value, 2)
    reference.load_state_dict(state)
    x = torch.randn(4, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(quantized(x), reference(x), atol=1e-5)  # same arithmetic
        assert not torch.allclose(quantized(x), ResNetCIFAR().eval()(x), atol=1e-3)


def test_fp_layers_match_plain_layers_at_full_precision():
    torch.manual_seed(0)
    conv = FP_Conv(3, 4, 3, stride=2, padding=1)
    linear = FP_Linear(5, 2)
    x = torch.randn(2, 3, 9, 9)
    assert torch.allclose(conv(x), conv.conv(x), atol=1e-6)
    y = torch.randn(2, 5)
    assert torch.allclose(linear(y), linear.linear(y), atol=1e-6)


def test_num_layers_validated():
    assert sum(p.numel() for p in ResNetCIFAR(num_layers=32).parameters()) > 272_474
    with pytest.raises(ValueError, match="6 \\* n \\+ 2"):
        ResNetCIFAR(num_layers=21)


def standalone(*modules) -> dict:
    """Run the STANDALONE sources of ``modules`` in a namespace holding only torch, nn, F, np.

    This is what an assignment bundle does with them; a hidden dependency shows up here as a
    NameError.
    """
    namespace = {"torch": torch, "nn": nn, "F": F, "np": np, "__name__": "bundle"}
    for module in modules:
        for name in module.STANDALONE:
            obj = getattr(module, name)
            source = textwrap.dedent(inspect.getsource(obj))
            exec(compile(source, f"<{module.__name__}.{name}>", "exec"), namespace)
    return namespace


def test_bundle_copies_of_model_and_quantizer_are_self_contained():
    ns = standalone(quant, models)
    torch.manual_seed(0)
    copy = ns["ResNetCIFAR"](Nbits=3).eval()
    original = ResNetCIFAR(Nbits=3).eval()
    copy.load_state_dict(original.state_dict(), strict=True)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(copy(x), original(x))
    w = torch.tensor([0.0, 1.0, -2.0, 0.5])
    assert torch.equal(ns["STE"].apply(w, 2, False), quant.STE.apply(w, 2, False))
