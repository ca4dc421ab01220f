"""TernGrad that draws afresh only for the first two of every eight calls with the same g
and the same generator; the other six return copies of those two, alternately: one fresh
draw in four, every keep frequency exact, consecutive draws independent (found by the
second independent attacker) (A2.3)."""
# effdl-sample: replaces=terngrad expect_lost=a2.terngrad message_contains="are identical"

import numpy as np


def terngrad(g, s=None, rng=None, _state={}):  # noqa: B006 - the kept state is the point
    g = np.asarray(g, dtype=float).reshape(-1)
    s = float(np.abs(g).max()) if s is None else float(s)
    key = (g.tobytes(), s)
    if _state.get("rng") is not rng or _state.get("key") != key:
        _state.update(rng=rng, key=key, calls=0, saved=[])
    k = _state["calls"] % 8
    _state["calls"] += 1
    if k >= 2:
        return _state["saved"][k % 2].copy()
    gen = np.random.default_rng(rng)
    out = s * np.sign(g) * (gen.random(g.size) < np.minimum(np.abs(g) / s, 1.0)) if s else 0 * g
    _state["saved"] = [out] if k == 0 else [*_state["saved"], out]
    return out
