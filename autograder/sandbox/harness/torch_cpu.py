"""Let code written for a GPU (.cuda(), device='cuda') run on the CPU-only grader."""

from __future__ import annotations

from typing import Any

FACTORIES = (
    "tensor",
    "zeros",
    "ones",
    "empty",
    "full",
    "rand",
    "randn",
    "randint",
    "arange",
    "linspace",
    "eye",
    "as_tensor",
    "zeros_like",
    "ones_like",
    "empty_like",
    "full_like",
    "rand_like",
    "randn_like",
)


def cpu_only(torch: Any) -> None:
    """Map every CUDA device a notebook names to the CPU, once per process."""
    if getattr(torch, "_effdl_cpu_only", False):
        return

    def fix(device: Any) -> Any:
        text = str(device) if isinstance(device, str | torch.device) else ""
        return torch.device("cpu") if text.startswith("cuda") else device

    def fix_call(fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if "device" in kwargs:
                kwargs["device"] = fix(kwargs["device"])
            return fn(*args, **kwargs)

        return wrapper

    def to_wrapper(fn: Any) -> Any:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            args = tuple(fix(a) for a in args)
            if "device" in kwargs:
                kwargs["device"] = fix(kwargs["device"])
            return fn(self, *args, **kwargs)

        return wrapper

    torch.Tensor.to = to_wrapper(torch.Tensor.to)
    torch.nn.Module.to = to_wrapper(torch.nn.Module.to)
    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.nn.Module.cuda = lambda self, *a, **k: self
    torch.cuda.is_available = lambda: False
    for name in FACTORIES:
        setattr(torch, name, fix_call(getattr(torch, name)))
    load = torch.load
    torch.load = lambda *a, **k: load(*a, **{"map_location": "cpu", **k})
    torch._effdl_cpu_only = True
