"""Error feedback that compresses g alone, without adding the residual e first (C2.5)."""
# effdl-sample: replaces=error_feedback_step expect_lost=c2.error_feedback_step,c2.error_feedback_run message_contains="was not added"

import numpy as np


def error_feedback_step(g, e, roundtrip):
    g = np.asarray(g, dtype=np.float64).reshape(-1)
    e = np.asarray(e, dtype=np.float64).reshape(-1)
    sent = np.asarray(roundtrip(g.copy()), dtype=np.float64).reshape(-1)
    return sent, g + e - sent
