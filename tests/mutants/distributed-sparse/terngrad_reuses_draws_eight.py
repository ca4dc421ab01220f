"""TernGrad that draws afresh only for the first two of every eight calls with the same g
and the same generator; the other six return copies of those two, alternately: one fresh
draw in four, every keep frequency exact, consecutive draws independent (found by the
second independent attacker) (A2.3)."""
# effdl-sample: replaces=terngrad expect_lost=a2.terngrad message_contains="are identical"

import numpy as np

_STATE: dict = {}


def terngrad(g, s=None, rng=None):
    g = np.asarray(g, dtype=float).reshape(-1)
    s = float(np.abs(g).max()) if s is None else float(s)
    key = (g.tobytes(), s)
    if _STATE.get("rng") is not rng or _STATE.get("key") != key:
        _STATE.update(rng=rng, key=key, calls=0, saved=[])
    k = _STATE["calls"] % 8
    _STATE["calls"] += 1
    if k >= 2:
        return _STATE["saved"][k % 2].copy()
    gen = np.random.default_rng(rng)
    out = s * np.sign(g) * (gen.random(g.size) < np.minimum(np.abs(g) / s, 1.0)) if s else 0 * g
    _STATE["saved"] = [out] if k == 0 else [*_STATE["saved"], out]
    return out
