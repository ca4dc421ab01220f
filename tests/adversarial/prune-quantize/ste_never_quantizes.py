"""An STE whose forward hands the weights back unquantized (zeros for bit 0) with a correct
straight-through backward. The guard cases' right answer is w itself, so doing nothing looked
like handling them (round 13: the guard point was kept)."""
# effdl-attack: build=cell replaces=STE in=FP_layers.py expect_lost=b4.ste_forward,b4.ste_zeros,b4.ste_symmetric,b4.ste_guards zero=b4.ste_forward,b4.ste_zeros,b4.ste_symmetric,b4.ste_guards feedback_contains="a forward that never quantizes" threat=vacuous


class STE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, bit, symmetric=False):
        if bit == 0:
            return w * 0
        return w.clone()

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output, None, None
