"""TernGrad that draws afresh only for the first two of every four calls with the same g and
the same generator, and returns copies of those two for the next two: every keep frequency
is exact, consecutive draws are independent, but draw 4m + 2 repeats draw 4m (dependence
two calls apart; found by the second independent attacker) (A2.3)."""
# effdl-sample: replaces=terngrad expect_lost=a2.terngrad message_contains="are identical"

import numpy as np

_STATE: dict = {}


def terngrad(g, s=None, rng=None):
    g = np.asarray(g, dtype=float).reshape(-1)
    s = float(np.abs(g).max()) if s is None else float(s)
    key = (g.tobytes(), s)
    if _STATE.get("rng") is not rng or _STATE.get("key") != key:
        _STATE.update(rng=rng, key=key, calls=0, saved=[])
    k = _STATE["calls"] % 4
    _STATE["calls"] += 1
    if k >= 2:
        return _STATE["saved"][k - 2].copy()
    gen = np.random.default_rng(rng)
    out = s * np.sign(g) * (gen.random(g.size) < np.minimum(np.abs(g) / s, 1.0)) if s else 0 * g
    _STATE["saved"] = [out] if k == 0 else [*_STATE["saved"], out]
    return out
