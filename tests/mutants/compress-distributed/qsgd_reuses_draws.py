"""QSGD that draws afresh only at every eighth call with the same v and the same generator
and returns copies of that draw in between: every entry's law is exact and the entries of
one draw are independent, but seven draws in eight repeat an earlier one (found by the
second independent attacker) (C2.3)."""
# effdl-sample: replaces=qsgd_quantize expect_lost=c2.qsgd message_contains="are identical"

import numpy as np


def qsgd_quantize(v, s, rng, _state={}):  # noqa: B006 - the kept state is the point
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    key = (v.tobytes(), s)
    if _state.get("rng") is not rng or _state.get("key") != key:
        _state.update(rng=rng, key=key, calls=0)
    _state["calls"] += 1
    if (_state["calls"] - 1) % 8:
        return _state["saved"].copy()
    norm = float(np.linalg.norm(v))
    if norm == 0.0:
        out = np.zeros(v.shape)
    else:
        r = s * np.abs(v) / norm
        level = np.floor(r) + (rng.random(v.shape) < r - np.floor(r))
        out = norm * np.sign(v) * level / s
    _state["saved"] = out
    return out.copy()
