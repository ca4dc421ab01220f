"""Error feedback whose run never carries the residual: every step starts from e0 again (C2.5)."""
# effdl-sample: replaces=error_feedback_run expect_lost=c2.error_feedback_run message_contains="not carried"

import numpy as np


def error_feedback_run(grads, roundtrip, e0=None):
    G = np.array(grads, dtype=np.float64)
    start = np.zeros(G.shape[1]) if e0 is None else np.asarray(e0, dtype=np.float64).reshape(-1)
    sent = np.zeros(G.shape)
    e = start
    for t in range(G.shape[0]):
        sent[t], e = error_feedback_step(G[t], start, roundtrip)
    return sent, e
