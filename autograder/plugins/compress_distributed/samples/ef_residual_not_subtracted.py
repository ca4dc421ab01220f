"""Error feedback that keeps p = g + e as the residual, never subtracting what was sent (C2.5)."""
# effdl-sample: replaces=error_feedback_step expect_lost=c2.error_feedback_step,c2.error_feedback_run message_contains="not subtracted"

import numpy as np


def error_feedback_step(g, e, roundtrip):
    p = np.asarray(g, dtype=np.float64).reshape(-1) + np.asarray(e, dtype=np.float64).reshape(-1)
    sent = np.asarray(roundtrip(p.copy()), dtype=np.float64).reshape(-1)
    return sent, p
