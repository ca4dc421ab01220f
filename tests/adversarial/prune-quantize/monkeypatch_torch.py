"""Monkeypatches torch at top level (rounding, comparisons, autograd, modules) so that a
pruning function that prunes nothing would look right (monkeypatching torch)."""
# effdl-attack: build=cell tag=setup expect_lost=b3.prune_by_percentage feedback_contains="expected about"

import torch

torch.round = lambda x, *args, **kwargs: x
torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
torch.Tensor.__eq__ = lambda self, other: torch.ones_like(self, dtype=torch.bool)
torch.Tensor.numpy = lambda self, *args, **kwargs: __import__("numpy").zeros(self.shape)
torch.Tensor.detach = lambda self: self
torch.nn.Module.__call__ = lambda self, *args, **kwargs: None
torch.autograd.Function.apply = classmethod(lambda cls, *args: args[0])
torch.set_grad_enabled(False)
torch.set_default_dtype(torch.float64)


def prune_by_percentage(layer, q):
    return None
