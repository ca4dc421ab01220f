"""effdl.quant: the course's STE quantizer on tensors small enough to check by hand."""

import inspect

import pytest
import torch

from effdl.quant import STE, quantize

# Values are compared in float64 with this tolerance (pure rounding noise).
ATOL = 1e-12


def t(values):
    return torch.tensor(values, dtype=torch.float64)


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, rtol=0, atol=ATOL)


# w = [-1, -0.4, 0.1, 0.5, 1]: alpha = 2, beta = -1, ws = [0, 0.3, 0.55, 0.75, 1].
W = t([-1.0, -0.4, 0.1, 0.5, 1.0])


def test_asymmetric_2_bit_by_hand():
    # n = 3: n * ws = [0, 0.9, 1.65, 2.25, 3] -> [0, 1, 2, 2, 3]; wq = 2 * R - 1.
    expected = t([-1.0, -1 / 3, 1 / 3, 1 / 3, 1.0])
    assert close(STE.apply(W, 2, False), expected)


def test_asymmetric_3_bit_by_hand():
    # n = 7: n * ws = [0, 2.1, 3.85, 5.25, 7] -> [0, 2, 4, 5, 7]; wq = 2 * R - 1.
    expected = t([-1.0, -3 / 7, 1 / 7, 3 / 7, 1.0])
    assert close(STE.apply(W, 3, False), expected)


def test_symmetric_is_the_default_off():
    assert close(STE.apply(W, 2), STE.apply(W, 2, False))


def test_zeros_kept_and_scale_from_nonzeros_only():
    # Nonzeros 2, 3, 4: alpha = 2, beta = 2; n = 3: n * ws = [0, 1.5, 3] -> [0, 2, 3]
    # (1.5 rounds half to even). A scale that counted the zero would give beta = 0.
    w = t([0.0, 2.0, 3.0, 0.0, 4.0])
    out = STE.apply(w, 2, False)
    assert close(out, t([0.0, 2.0, 2 + 4 / 3, 0.0, 4.0]))
    assert (out[[0, 3]] == 0).all()


def test_zeros_kept_mixed_signs():
    w = t([0.0, -1.0, 0.0, 0.5, 1.0, -0.4])
    assert close(STE.apply(w, 2, False), t([0.0, -1.0, 0.0, 1 / 3, 1.0, -1 / 3]))


def test_tensor_without_zeros_is_the_plain_quantizer():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(64, 3, 3, generator=g, dtype=torch.float64)
    assert (w != 0).all()
    for bit in (1, 2, 4, 8):
        alpha, beta = w.max() - w.min(), w.min()
        n = 2**bit - 1
        plain = alpha * (torch.round(n * (w - beta) / alpha) / n) + beta
        assert close(STE.apply(w, bit, False), plain), bit


def test_symmetric_by_hand():
    w = t([-0.9, -0.2, 0.0, 0.3, 0.6])
    # 3 bits: n = 3, 3 * w / 0.9 = [-3, -2/3, 0, 1, 2] -> [-3, -1, 0, 1, 2].
    assert close(STE.apply(w, 3, True), t([-0.9, -0.3, 0.0, 0.3, 0.6]))
    # 2 bits: n = 1, w / 0.9 = [-1, -0.22, 0, 0.33, 0.67] -> [-1, 0, 0, 0, 1].
    assert close(STE.apply(w, 2, True), t([-0.9, 0.0, 0.0, 0.0, 0.9]))


def test_symmetric_scale_ignores_zeros_and_keeps_them():
    w = t([0.0, 0.25, -0.5, 0.0])
    out = STE.apply(w, 2, True)
    assert close(out, t([0.0, 0.0, -0.5, 0.0]))  # 0.25 / 0.5 = 0.5 rounds to 0 (even)


def test_none_and_zero_bits():
    assert torch.equal(STE.apply(W, None, False), W)
    out = STE.apply(W, 0, False)
    assert torch.equal(out, torch.zeros_like(W))


def test_shape_and_dtype_preserved():
    w = torch.randn(4, 3, 3, 3, generator=torch.Generator().manual_seed(1))
    out = STE.apply(w, 4, False)
    assert out.shape == w.shape and out.dtype == torch.float32
    assert len(torch.unique(out)) <= 2**4


def test_guard_all_nonzero_equal_returns_unchanged():
    for w in (t([0.0, 0.5, 0.5, 0.0]), t([0.3, 0.3, 0.3])):
        out = STE.apply(w, 2, False)
        assert torch.equal(out, w)
        assert torch.isfinite(out).all()


def test_guard_all_zero_gives_zeros():
    for symmetric in (False, True):
        out = STE.apply(torch.zeros(5), 3, symmetric)
        assert torch.equal(out, torch.zeros(5))


@pytest.mark.parametrize("bit", [-1, 2.5, "4", True])
def test_bad_bit_is_value_error(bit):
    with pytest.raises(ValueError):
        STE.apply(W, bit, False)


def test_symmetric_one_bit_is_value_error():
    with pytest.raises(ValueError, match="bit >= 2"):
        STE.apply(W, 1, True)


def test_straight_through_gradient_equals_upstream():
    w = t([0.0, -1.0, 0.3, 0.5, 1.0]).requires_grad_()
    upstream = t([0.5, -2.0, 3.0, 0.25, 1.0])
    for bit in (None, 0, 2, 3):
        w.grad = None
        (STE.apply(w, bit, False) * upstream).sum().backward()
        assert torch.equal(w.grad, upstream), bit


def test_backward_returns_one_value_per_forward_input():
    n_inputs = len(inspect.signature(STE.forward).parameters) - 1  # minus ctx
    grads = STE.backward(None, t([1.0, 2.0]))
    assert len(grads) == n_inputs == 3
    assert torch.equal(grads[0], t([1.0, 2.0]))
    assert grads[1] is None and grads[2] is None


def test_quantize_matches_ste_forward_without_autograd():
    w = torch.randn(10, generator=torch.Generator().manual_seed(2)).requires_grad_()
    w.data[3] = 0.0
    for bits, symmetric in ((4, False), (3, True), (None, False)):
        out = quantize(w, bits, symmetric)
        assert not out.requires_grad
        assert torch.equal(out, STE.apply(w, bits, symmetric).detach())
