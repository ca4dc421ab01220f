"""Error feedback in float32, the run collecting lists (C2.5)."""
# effdl-sample: replaces=error_feedback_step,error_feedback_run

import numpy as np


def error_feedback_step(g, e, roundtrip):
    p = (np.asarray(g, dtype=np.float32) + np.asarray(e, dtype=np.float32)).reshape(-1)
    sent = np.asarray(roundtrip(p), dtype=np.float32).reshape(-1)
    return sent, p - sent


def error_feedback_run(grads, roundtrip, e0=None):
    grads = np.asarray(grads, dtype=np.float32)
    e = np.zeros(grads.shape[1], dtype=np.float32) if e0 is None else np.asarray(e0, np.float32)
    sent = []
    for g in grads:
        s, e = error_feedback_step(g, e, roundtrip)
        sent.append(s)
    return np.array(sent), e
