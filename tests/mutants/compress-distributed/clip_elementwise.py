"""Clipping by norm done entry by entry (np.clip) (C2.6; DGC's step uses it)."""
# effdl-sample: replaces=clip_by_norm expect_lost=c2.clip_by_norm,c2.dgc_step message_contains="each entry was clipped"

import numpy as np


def clip_by_norm(g, max_norm):
    return np.clip(np.asarray(g, dtype=np.float64).reshape(-1), -max_norm, max_norm)
