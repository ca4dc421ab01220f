"""DGC's warm-up one epoch late: density 4^-epoch, so epoch 0 is dense (C2.6)."""
# effdl-sample: replaces=dgc_sparsity expect_lost=c2.dgc_sparsity message_contains="one epoch late"


def dgc_sparsity(epoch, warmup_epochs=4, final_sparsity=DGC_FINAL_SPARSITY):
    if epoch >= warmup_epochs:
        return float(final_sparsity)
    return float(min(1.0 - 0.25**epoch, final_sparsity))
