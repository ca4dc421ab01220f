"""Error feedback that updates the caller's residual e in place and returns that same array
(C2.5): the numbers are right, but C2 says inputs are never changed, and a caller that keeps
e (to log it, or to retry a step) sees it overwritten."""
# effdl-sample: replaces=error_feedback_step expect_lost=c2.error_feedback_step message_contains="changed its input (`e`) in place"

import numpy as np


def error_feedback_step(g, e, roundtrip):
    e += np.reshape(g, np.shape(e))
    sent = np.asarray(roundtrip(e), dtype=np.float64).reshape(-1)
    e -= np.reshape(sent, np.shape(e))
    return sent, e.reshape(-1)
