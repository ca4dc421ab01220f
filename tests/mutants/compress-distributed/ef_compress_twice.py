"""Error feedback that calls the compressor twice, once for what is sent and once for the residual (C2.5)."""
# effdl-sample: replaces=error_feedback_step expect_lost=c2.error_feedback_step message_contains="called 2 times"

import numpy as np


def error_feedback_step(g, e, roundtrip):
    p = np.asarray(g, dtype=np.float64).reshape(-1) + np.asarray(e, dtype=np.float64).reshape(-1)
    sent = np.asarray(roundtrip(p), dtype=np.float64).reshape(-1)
    return sent, p - np.asarray(roundtrip(p), dtype=np.float64).reshape(-1)
