"""What the harness relies on, and how it puts it back after student code changed it.

A notebook's top-level statements may rebind attributes of the modules the harness uses
(np.allclose = ..., json.dump = ..., builtins.isinstance = ...), signal handlers, timers,
stdout or the working folder. The loader snapshots that world before any student code runs
and restores it after every statement and between calls. Attributes a notebook adds
(np.float = float) are kept.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import signal
import sys
from types import ModuleType
from typing import Any

PROTECTED_MODULES = (
    "builtins",
    "base64",
    "copy",
    "io",
    "json",
    "json.encoder",
    "os",
    "os.path",
    "random",
    "signal",
    "time",
    "traceback",
    "numpy",
    "numpy.linalg",
    "numpy.random",
    "torch",
    "torch.autograd",
    "torch.nn",
    "torch.nn.functional",
    "torch.utils.data",
)
_MISSING = object()
_BUILTIN_DICT = builtins.__dict__


def snapshot_world(own: list[ModuleType]) -> dict[str, Any]:
    """The world before any student code ran; `own` are the harness's and the fixtures'
    modules, whose globals are protected too."""
    modules = {name: sys.modules[name] for name in PROTECTED_MODULES if name in sys.modules}
    dicts = [(m.__dict__, dict(m.__dict__)) for m in [*modules.values(), *own]]
    classes = []
    torch = modules.get("torch")
    if torch is not None:
        classes += [torch.Tensor, torch.nn.Module, torch.autograd.Function]
    handlers = {}
    for sig in signal.valid_signals():
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            handlers[sig] = signal.getsignal(sig)
    return {
        "builtins": dict(_BUILTIN_DICT),
        "modules": modules,
        "dicts": dicts,
        "json_classes": [(cls, dict(vars(cls))) for cls in (json.JSONEncoder, json.JSONDecoder)],
        "classes": [(cls, dict(vars(cls))) for cls in classes],
        "handlers": handlers,
        "recursion": sys.getrecursionlimit(),
        "cwd": os.getcwd(),
    }


def restore_core(world: dict[str, Any]) -> None:
    """Put back the builtins and the protected modules' attributes (run after every statement,
    so that the loader's own code between statements is never the notebook's; plain dict
    operations, builtins first, since everything else may have been rebound)."""
    for key, value in world["builtins"].items():
        if _BUILTIN_DICT.get(key, _MISSING) is not value:
            _BUILTIN_DICT[key] = value
    for name, module in world["modules"].items():
        if sys.modules.get(name) is not module:
            sys.modules[name] = module
    for current, saved in world["dicts"]:
        for key, value in saved.items():
            if current.get(key, _MISSING) is not value:
                current[key] = value
    _restore_classes(world["json_classes"])


def _restore_classes(classes: list[tuple[type, dict[str, Any]]]) -> None:
    """Put back the classes' attributes, removing added ones: an attribute set on a subclass
    (torch.autograd.Function.apply) hides the inherited one until it is deleted."""
    for cls, saved in classes:
        current = vars(cls)
        for key in [k for k in current if k not in saved]:
            with contextlib.suppress(Exception):
                type.__delattr__(cls, key)
        for key, value in saved.items():
            if current.get(key, _MISSING) is not value:
                with contextlib.suppress(Exception):
                    type.__setattr__(cls, key, value)


def restore_world(world: dict[str, Any], stdout: Any) -> None:
    """Undo what top-level statements changed in the harness's world: restore_core, classes,
    signal handlers and timers, recursion limit, tracing, stdout, working folder, torch modes."""
    restore_core(world)
    _restore_classes(world["classes"])
    for sig, handler in world["handlers"].items():
        with contextlib.suppress(Exception):
            if signal.getsignal(sig) is not handler:
                signal.signal(sig, handler)
    signal.alarm(0)
    for timer in (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF):
        signal.setitimer(timer, 0)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    sys.setrecursionlimit(world["recursion"])
    sys.settrace(None)
    sys.setprofile(None)
    sys.stdout = sys.stderr = stdout
    with contextlib.suppress(OSError):  # a notebook may have taken its own permissions away
        os.chmod(world["cwd"], 0o755)
    os.chdir(world["cwd"])
    torch = world["modules"].get("torch")
    if torch is not None:
        torch.set_grad_enabled(True)
        torch.set_default_dtype(torch.float32)
