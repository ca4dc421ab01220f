"""Monkeypatches numpy, json, base64, pytest and builtins at top level, so that comparisons
always succeed and the harness writes what the patch says (monkeypatching)."""
# effdl-attack: build=cell tag=answer expect_lost=a2.closed_form feedback_contains="entries differ" quick=1

import base64
import builtins
import json
import os
import sys
import types

import numpy as np

np.allclose = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.shape(a), dtype=bool)
np.array_equal = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
np.linalg.solve = lambda A, b: np.zeros(np.shape(b))
np.asarray = lambda *args, **kwargs: "patched"
json.dump = lambda obj, fh, **kwargs: fh.write('{"status": "ok", "value": [1, -3, 2]}')
json.dumps = lambda obj, **kwargs: '{"status": "ok", "value": 0}'
json.JSONEncoder.encode = lambda self, obj: "{}"
base64.b64encode = lambda data: b"AAAA"
os.replace = lambda src, dst: None
builtins.isinstance = lambda obj, cls: True
builtins.len = lambda obj: 3
builtins.open = lambda *args, **kwargs: (_ for _ in ()).throw(OSError("patched open"))
try:
    import pytest

    pytest.approx = lambda expected, **kwargs: expected
except ImportError:
    pass
fake = types.ModuleType("numpy")
fake.__dict__.update({k: v for k, v in np.__dict__.items() if not k.startswith("__")})
sys.modules["numpy"] = fake
sys.modules["json"] = types.ModuleType("json")


def closed_form(X, y):
    return [0.0, 0.0, 0.0]
