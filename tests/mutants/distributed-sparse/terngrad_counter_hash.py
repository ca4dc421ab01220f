"""TernGrad whose uniforms come from hashing a counter kept across calls (in a default
argument): they look random and independent, but ignore the rng, so the same generator
state gives other draws (A2.3)."""
# effdl-sample: replaces=terngrad expect_lost=a2.terngrad,a2.train_terngrad,a2.train_tern_clip message_contains="called twice with the same inputs and the same seed"

import numpy as np


def terngrad(g, s=None, rng=None, _counter=[0]):  # noqa: B006 - the counter is the point
    import hashlib

    g = np.asarray(g, dtype=float).reshape(-1)
    s = float(np.abs(g).max()) if s is None else float(s)
    if s == 0:
        return np.zeros_like(g)
    _counter[0] += 1
    digest = hashlib.sha256(str(_counter[0]).encode()).digest()
    u = np.frombuffer(digest[: 4 * g.size], dtype=np.uint32) / 2.0**32
    return s * np.sign(g) * (u < np.abs(g) / s)
