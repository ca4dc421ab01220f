"""A submitted FP_layers.py that ends the process when it is imported: only the STE it
holds loses points, the notebook's functions keep theirs."""
# effdl-attack: build=file name=FP_layers.py expect_lost=b4.ste_forward,b4.ste_zeros,b4.ste_symmetric,b4.ste_guards,b4.ste_backward feedback_contains="ended its process" feedback_contains="skipped a statement"

import os

import torch


class STE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, bit, symmetric=False):
        return w

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output, None, None


os._exit(0)
