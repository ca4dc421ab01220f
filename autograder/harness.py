"""The harness: the only grader code that runs inside the sandbox, next to student code.

It imports nothing from effdl or the checks: the standard library, numpy, and torch when the
assignment needs it. Usage (the sandbox runs it as an unprivileged user):

    python -I -S harness.py JOB_DIR WORK_DIR OUT_DIR SITE_DIRS [SOURCE_DIR]

(the sandbox imports it from JOB_DIR instead, with sandbox.LAUNCH, so that Python loads the
bytecode the grader compiled once rather than compiling this file for every submission).

JOB_DIR/job.json (read-only) says which notebook statements to run and which calls to make.
WORK_DIR holds the submission's files (copied there from SOURCE_DIR first, when given: in the
sandbox the staged files are read-only and WORK_DIR is a private in-memory folder). OUT_DIR
receives, as plain data:
  events.jsonl   what happened (statements run, skipped, failed; calls started and ended)
  calls/N.json   the value each call returned, encoded by `encode` (no pickles, no objects)
  stdout.txt     the first STDOUT_CAP bytes the student's code printed

Three kinds of process, so that one misbehaving piece of student code costs only its own points:
- the supervisor (this process; PID 1 of the sandbox) runs no student code. It starts a loader,
  drains its output, enforces the time budgets, and restarts the loader without the statement
  that hung or killed it.
- the loader runs the notebook's definitions statement by statement, puts back what they
  changed in the harness's own world (library attributes, builtins, signal handlers, stdout,
  the working folder), then forks one call process per graded function: calls of one
  function run one after another in that process, calls of different functions never share
  one, so a crash, an exit or a changed global in one function's calls cannot reach another's.
  Before each call the supervisor kills every other process left in the sandbox (background
  processes started by the notebook or a call); the call process puts back the harness's
  world and the notebook's global names, and reseeds, between calls.
- the call process rebuilds each call's inputs from job.json, calls the function, writes the
  result. A call that crashes, exits or overruns its budget ends that process; the function's
  remaining calls go on in a fresh one.

Everything in OUT_DIR is untrusted on the grader's side: the student's code runs as the same
user as the harness and could rewrite it. The grader reads it as data and checks it; the
harness only has to keep honest code's results intact when other code misbehaves.
"""

from __future__ import annotations

import ast
import base64
import builtins
import contextlib
import copy
import io
import json
import os
import re
import select
import shutil
import signal
import sys
import time
import traceback
from typing import Any

STDOUT_CAP = 64 * 1024
STRING_CAP = 20_000
VALUE_BYTES_CAP = 32 * 1024 * 1024
MAX_DEPTH = 12
DEGRADE_AFTER = 10  # statements skipped for hanging or killing the loader; then 1 s budgets
MAX_SKIPPED = 50  # ... and after this many, only imports, functions and classes run
LOADER_EVENTS = (
    "stmt_start",
    "stmt_end",
    "clear",
    "ready",
    "call_start",
    "call_end",
    "loader_done",
)
MAX_LOADER_LOSSES = 2  # loaders lost outside any statement or call
ARRAY_KINDS = "biufc"
DEFINITIONS_ONLY = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# What the harness itself relies on; a notebook's top-level statements may rebind attributes
# of these (np.allclose = ..., json.dump = ..., builtins.isinstance = ...), and the loader puts
# them back before the calls. Attributes a notebook adds (np.float = float) are kept.
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

# Statement kinds that run in cells without a role tag (definitions, not experiments).
DEFINITION_NODES = (
    ast.Import,
    ast.ImportFrom,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Assign,
    ast.AnnAssign,
)
RUN_ALL_ROLES = ("answer", "setup")
MAGIC_LINE = re.compile(r"^\s*[%!]")


# ----------------------------------------------------------------------------- statements
def split_statements(cells: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Turn notebook cells into the list of top-level statements to run, and notes.

    Cells whose role is answer or setup run whole; untagged cells keep only imports,
    definitions and assignments; cells with any other role (experiment, public-check,
    written) do not run. IPython magics and shell lines are dropped.
    """
    statements: list[dict[str, Any]] = []
    notes: list[str] = []
    for cell in cells:
        role = cell.get("role")
        if role not in RUN_ALL_ROLES and role is not None:
            continue
        source = str(cell.get("source", ""))
        if source.lstrip().startswith("%%"):
            first, _, rest = source.lstrip().partition("\n")
            if not first.startswith(("%%time", "%%capture")):
                notes.append(f"cell {cell['index']}: skipped its {first.split()[0]} cell magic")
                continue
            source = rest
        source = "\n".join(
            "pass" if MAGIC_LINE.match(line) else line for line in source.splitlines()
        )
        try:
            tree = ast.parse(source, filename=f"<cell {cell['index']}>")
        except SyntaxError as exc:
            notes.append(f"cell {cell['index']}: syntax error at line {exc.lineno}: {exc.msg}")
            continue
        lines = source.encode("utf-8", "surrogatepass").splitlines(keepends=True)
        for node in tree.body:
            if role is None and not isinstance(node, DEFINITION_NODES):
                continue
            if isinstance(node, ast.Pass):
                continue
            statements.append(
                {
                    "cell": cell["index"],
                    "line": node.lineno,
                    "role": role,
                    "code": _segment(lines, node),
                    "tree": ast.Module(body=[node], type_ignores=[]),
                }
            )
    return statements, notes


def _segment(lines: list[bytes], node: ast.stmt) -> str:
    """The statement's source text (what ast.get_source_segment gives, without splitting the
    whole cell again for every statement). Column offsets count UTF-8 bytes."""
    chunk = lines[node.lineno - 1 : (node.end_lineno or node.lineno)]
    if not chunk:
        return ""
    if node.end_col_offset is not None:
        chunk[-1] = chunk[-1][: node.end_col_offset]
    chunk[0] = chunk[0][node.col_offset :]
    return b"".join(chunk).decode("utf-8", "replace")


# ----------------------------------------------------------------------------- data out
def encode(value: Any, depth: int = 0) -> Any:
    """Encode a returned value as JSON-ready data; anything that is not data is refused.

    Arrays and tensors become {"__ndarray__": base64, "dtype", "shape"}; a list of arrays of
    one shape and dtype becomes {"__stacked__": one array}; tuples, NaN and infinities are
    tagged; objects of other types become {"__unsupported__": type name}
    without calling any of their methods.
    """
    np = sys.modules.get("numpy")
    torch = sys.modules.get("torch")
    if depth > MAX_DEPTH:
        return {"__unsupported__": f"nesting deeper than {MAX_DEPTH}"}
    if value is None or type(value) in (bool, int, str):
        if type(value) is str and len(value) > STRING_CAP:
            return value[:STRING_CAP]
        if type(value) is int and abs(value) > 2**63:
            big = float("inf") if abs(value).bit_length() > 1023 else abs(float(value))
            return {"__float__": repr(big if value > 0 else -big)}
        return value
    if type(value) is float:
        return (
            value if value == value and abs(value) != float("inf") else {"__float__": repr(value)}
        )
    if type(value) in (list, tuple):
        if type(value) is list and _same_arrays(value, np):
            return {"__stacked__": encode(np.stack(value[:100_000]), depth + 1)}
        items = [encode(v, depth + 1) for v in value[:100_000]]
        return items if type(value) is list else {"__tuple__": items}
    if type(value) is dict:
        return {
            "__dict__": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]
        }
    if torch is not None and isinstance(value, torch.Tensor):
        value = torch.Tensor.numpy(torch.Tensor.cpu(torch.Tensor.detach(value)).resolve_conj())
    if np is not None and isinstance(value, np.generic):
        value = np.asarray(value)
    if np is not None and isinstance(value, np.ndarray):
        array = np.ndarray.view(value, np.ndarray)
        if array.dtype.kind not in ARRAY_KINDS:
            return {"__unsupported__": f"numpy array of dtype {array.dtype}"}
        if array.nbytes > VALUE_BYTES_CAP:
            return {"__unsupported__": f"array of {array.nbytes} bytes (cap {VALUE_BYTES_CAP})"}
        array = np.ascontiguousarray(array).reshape(array.shape)  # keeps 0-d arrays 0-d
        return {
            "__ndarray__": base64.b64encode(array.tobytes()).decode("ascii"),
            "dtype": array.dtype.str,
            "shape": list(array.shape),
        }
    return {"__unsupported__": type(value).__module__ + "." + type(value).__qualname__}


def _same_arrays(items: list[Any], np: Any) -> bool:
    """Whether a list holds 2+ plain numpy arrays of one shape and numeric dtype: it is sent
    as one stacked array (2,000 TernGrad draws: one encoding instead of 2,000)."""
    if np is None or len(items) < 2 or type(items[0]) is not np.ndarray:
        return False
    shape, dtype = items[0].shape, items[0].dtype
    if dtype.kind not in ARRAY_KINDS:
        return False
    return all(type(a) is np.ndarray and a.shape == shape and a.dtype == dtype for a in items)


def decode_input(spec: Any, np: Any) -> Any:
    """Rebuild a call argument from job.json (arrays, tuples, numpy random generators)."""
    if isinstance(spec, list):
        return [decode_input(v, np) for v in spec]
    if not isinstance(spec, dict):
        return spec
    if "__ndarray__" in spec:
        data = base64.b64decode(spec["__ndarray__"])
        return np.frombuffer(data, dtype=np.dtype(spec["dtype"])).reshape(spec["shape"]).copy()
    if "__tuple__" in spec:
        return tuple(decode_input(v, np) for v in spec["__tuple__"])
    if "__rng__" in spec:
        return np.random.default_rng(int(spec["__rng__"]))
    if "__float__" in spec:
        return float(spec["__float__"])
    return {k: decode_input(v, np) for k, v in spec.items()}


# ----------------------------------------------------------------------------- torch
def cpu_only(torch: Any) -> None:
    """Let code written for a GPU (.cuda(), device='cuda') run on the CPU-only grader."""
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
    for name in [
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
    ]:
        setattr(torch, name, fix_call(getattr(torch, name)))
    load = torch.load
    torch.load = lambda *a, **k: load(*a, **{"map_location": "cpu", **k})
    torch._effdl_cpu_only = True


def tiny_net(torch: Any, weights: dict[str, Any] | None = None) -> Any:
    """A small net named like the course's ResNet (head_conv, body_op, id_mapping, final_fc).

    Pruning and finetuning checks use it so that they never run through the student's STE;
    the trusted checks build the same net to compute the reference.
    """
    nn = torch.nn

    class Wrap(nn.Module):
        def __init__(self, inner: Any, attr: str) -> None:
            super().__init__()
            setattr(self, attr, inner)
            self.attr = attr

        def forward(self, x: Any) -> Any:
            return getattr(self, self.attr)(x)

    def conv_bn(cin: int, cout: int, k: int, stride: int) -> Any:
        conv = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False)
        return nn.Sequential(Wrap(conv, "conv"), nn.BatchNorm2d(cout))

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = conv_bn(cin, cout, 3, stride)
            self.conv2 = conv_bn(cout, cout, 3, 1)
            self.id_mapping = conv_bn(cin, cout, 1, stride) if cin != cout else None

        def forward(self, x: Any) -> Any:
            out = self.conv2(torch.relu(self.conv1(x)))
            short = x if self.id_mapping is None else self.id_mapping(x)
            return torch.relu(out + short)

    class TinyNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head_conv = conv_bn(3, 4, 3, 1)
            self.body_op = nn.Sequential(Block(4, 4, 1), Block(4, 8, 2))
            self.final_fc = Wrap(nn.Linear(8, 10), "linear")

        def forward(self, x: Any) -> Any:
            out = self.body_op(torch.relu(self.head_conv(x)))
            return self.final_fc(out.mean(dim=(2, 3)))

    net = TinyNet()
    with torch.no_grad():  # nothing left to the global generator, which other threads share
        for module in net.modules():
            if isinstance(module, nn.BatchNorm2d | nn.Linear):
                n = module.bias.numel()
                module.bias.copy_(0.05 * torch.linspace(-1.0, 1.0, n))
                if isinstance(module, nn.BatchNorm2d):
                    module.weight.copy_(1.0 + 0.1 * torch.linspace(-1.0, 1.0, n))
    if weights:
        state = net.state_dict()
        for name, value in weights.items():
            state[name] = torch.as_tensor(value, dtype=state[name].dtype)
        net.load_state_dict(state)
    return net


def weights_of(net: Any) -> dict[str, Any]:
    """Every conv and linear weight of a net, as numpy arrays by state-dict name.

    Read from the modules, not the state dict, so that a layer pruned with
    torch.nn.utils.prune (whose state dict holds weight_orig and weight_mask) counts too.
    """
    torch = sys.modules["torch"]
    return {
        f"{name}.weight": module.weight.detach().cpu().numpy().copy()
        for name, module in net.named_modules()
        if isinstance(module, torch.nn.Conv2d | torch.nn.Linear)
    }


def other_parameters(net: Any) -> dict[str, Any]:
    """The parameters that never count for pruning: biases and batch-norm weights."""
    layers = {name[: -len(".weight")] for name in weights_of(net)}
    out = {}
    for name, value in net.named_parameters():
        module, _, attr = name.rpartition(".")
        if module in layers and attr in ("weight", "weight_orig"):  # _orig: nn.utils.prune
            continue
        out[name] = value.detach().cpu().numpy().copy()
    return out


def finetune_setup(torch: Any, spec: dict[str, Any]) -> tuple[Any, Any, Any]:
    """The net, the batches and the optimizer a finetuning call starts from.

    The hidden check builds the same to compute its reference. With spec["warm_start"] the
    optimizer has been used before, as in iterative pruning: one step on the first batch gives
    every weight a momentum, then the (pruned) starting weights are loaded back. Masking only
    the gradients then no longer keeps the pruned weights at zero; re-applying the mask does.
    """
    torch.manual_seed(0)
    net = tiny_net(torch, spec["weights"])
    data = torch.utils.data.TensorDataset(
        torch.tensor(spec["x"], dtype=torch.float32), torch.tensor(spec["y"]).long()
    )
    loader = torch.utils.data.DataLoader(data, batch_size=int(spec["batch_size"]))
    opt = torch.optim.SGD(
        net.parameters(),
        lr=spec["lr"],
        momentum=spec["momentum"],
        weight_decay=spec["weight_decay"],
    )
    net.train()
    if spec.get("warm_start"):
        start = copy.deepcopy(net.state_dict())
        inputs, targets = next(iter(loader))
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(inputs), targets).backward()
        opt.step()
        opt.zero_grad()
        net.load_state_dict(start)
    return net, loader, opt


# ----------------------------------------------------------------------------- calls
class EffdlNameMissing(LookupError):
    """A graded name the submission does not define."""


def find_name(namespace: dict[str, Any], name: str) -> Any:
    """A graded name from the notebook's namespace, else from a submitted support module."""
    if name in namespace:
        return namespace[name]
    for module_name in ("FP_layers",):
        module = sys.modules.get(module_name)
        if module is None and os.path.isfile(module_name + ".py"):
            module = __import__(module_name)
        if module is not None and hasattr(module, name):
            return getattr(module, name)
    raise EffdlNameMissing(f"{name} is not defined")


def run_call(call: dict[str, Any], namespace: dict[str, Any]) -> Any:
    """Run one call spec and return its result (the value the check will see)."""
    import numpy as np

    mode = call.get("mode", "call")
    args = decode_input(call.get("args", []), np)
    kwargs = decode_input(call.get("kwargs", {}), np)
    if mode == "value":
        return find_name(namespace, call["func"])
    if mode == "call":
        fn = find_name(namespace, call["func"])
        repeat = int(call.get("repeat", 1))
        if repeat == 1:
            return fn(*args, **kwargs)
        out = []
        for _ in range(repeat):  # fresh copies of the inputs, one shared generator
            again = [copy.deepcopy(a) for a in args]
            fresh = {k: v if k == "rng" else copy.deepcopy(v) for k, v in kwargs.items()}
            out.append(fn(*again, **fresh))
        return out

    import torch

    cpu_only(torch)
    spec = kwargs
    if mode == "ste":
        ste = find_name(namespace, call["func"])
        w = torch.tensor(spec["w"], dtype=torch.float32, requires_grad=True)
        result: dict[str, Any] = {}
        wq = ste.apply(w, spec["bit"], spec.get("symmetric", False))
        result["forward"] = wq
        if spec.get("upstream") is not None:
            upstream = torch.tensor(spec["upstream"], dtype=torch.float32)
            try:
                torch.autograd.backward(wq, upstream)
                result["grad"] = w.grad
            except Exception as exc:  # reported as data: the check explains it
                result["backward_error"] = f"{type(exc).__name__}: {exc}"
        return result
    if mode == "prune_layer":
        fn = find_name(namespace, call["func"])
        weight = torch.tensor(spec["weight"], dtype=torch.float32)
        if weight.dim() == 4:
            layer = torch.nn.Conv2d(weight.shape[1], weight.shape[0], weight.shape[2], bias=False)
        else:
            layer = torch.nn.Linear(weight.shape[1], weight.shape[0])
        with torch.no_grad():
            layer.weight.copy_(weight)
            if layer.bias is not None:  # small values a threshold on |w| would also remove
                layer.bias.copy_(torch.linspace(0.05, 0.5, layer.bias.numel()))
        returned = fn(layer, spec["q"])
        out = {"weight": layer.weight, "returned_none": returned is None}
        return {**out, "bias": layer.bias} if layer.bias is not None else out
    if mode == "global_prune":
        fn = find_name(namespace, call["func"])
        torch.manual_seed(0)
        net = tiny_net(torch, spec["weights"])
        fn(net, spec["q"])
        return {"weights": weights_of(net), "others": other_parameters(net)}
    if mode == "finetune":
        fn = find_name(namespace, call["func"])
        net, loader, opt = finetune_setup(torch, spec)
        returned = fn(net, loader, torch.nn.CrossEntropyLoss(), opt, prune=True)
        return {"weights": weights_of(net), "returned": returned}
    raise ValueError(f"unknown call mode {mode!r}")


def _describe_exception(exc: BaseException) -> dict[str, str]:
    """An exception as data; its own __str__ may misbehave, so that is guarded too."""
    name = type(exc).__name__
    try:
        text = str(exc)[:2000]
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:])
    except BaseException:  # a __str__ that raises: report the type only
        text, tb = "(its message could not be shown)", ""
    return {"error": f"{name}: {text}", "error_type": name, "traceback": tb[-4000:]}


def run_one(call: dict[str, Any], index: int, namespace: dict[str, Any], out_dir: str) -> None:
    """Seed, run one call, encode its value and write calls/INDEX.json atomically."""
    seed = int(call.get("seed", 1000 + index))
    import random

    random.seed(seed)
    np = sys.modules.get("numpy")
    if np is not None:
        np.random.seed(seed % 2**32)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)
    started = time.perf_counter()
    try:
        value = run_call(call, namespace)
        record = {"status": "ok", "value": encode(value)}
    except BaseException as exc:  # SystemExit and KeyboardInterrupt count as the call failing
        record = {"status": "error", **_describe_exception(exc)}
    record["seconds"] = time.perf_counter() - started
    path = os.path.join(out_dir, "calls", f"{index}.json")
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        json.dump(record, fh, allow_nan=False)
    os.replace(path + ".tmp", path)


def call_process(
    calls: list[dict[str, Any]],
    namespace: dict[str, Any],
    out_dir: str,
    pipes: tuple[int, int],
    world: dict[str, Any],
    stdout: Any,
) -> None:
    """Body of a call process: run each call index the runner sends, answer with the index.

    Between calls it puts back the harness's world and the notebook's global names (not
    objects changed in place) so that one call sees what the next sees in a fresh process.
    Never returns."""
    go, done = pipes
    os.setpgid(0, 0)
    names = dict(namespace)
    first = True
    while True:
        message = _read_exactly(go, 4)
        if message is None:  # the runner closed the pipe: no more calls
            os._exit(0)
        index = int.from_bytes(message, "little")
        if not first:
            restore_world(world, stdout)
            namespace.clear()
            namespace.update(names)
        first = False
        run_one(calls[index], index, namespace, out_dir)
        os.write(done, message)


def _read_exactly(fd: int, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        try:
            chunk = os.read(fd, size - len(data))
        except InterruptedError:
            continue
        if not chunk:
            return None
        data += chunk
    return data


def call_groups(calls: list[dict[str, Any]], skip: set[int]) -> list[list[int]]:
    """Call indexes grouped by graded function, in the order functions first appear."""
    groups: dict[str, list[int]] = {}
    for index, call in enumerate(calls):
        if index not in skip:
            groups.setdefault(str(call.get("func")), []).append(index)
    return list(groups.values())


# ----------------------------------------------------------------------------- world
_MISSING = object()
_BUILTIN_DICT = builtins.__dict__


def snapshot_world() -> dict[str, Any]:
    """What the harness relies on, before any student code ran (see PROTECTED_MODULES)."""
    modules = {name: sys.modules[name] for name in PROTECTED_MODULES if name in sys.modules}
    own = sys.modules.get(__name__)
    dicts = [(m.__dict__, dict(m.__dict__)) for m in [*modules.values(), own] if m is not None]
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


# ----------------------------------------------------------------------------- loader
def send(fd: int, event: dict[str, Any]) -> None:
    """Write one event line; `t` (monotonic seconds) is for profiling only, never grading."""
    event["t"] = round(time.monotonic(), 6)
    os.write(fd, (json.dumps(event) + "\n").encode())


def loader(
    job: dict[str, Any],
    statements: list[dict[str, Any]],
    state: dict[str, Any],
    pipes: tuple[int, int],
    out_dir: str,
    world: dict,
) -> None:
    """Run the notebook's statements, then the calls, one process per graded function (see
    run_group). Never returns."""
    fd, ack_fd = pipes
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    stdout = sys.stdout
    for k, stmt in enumerate(statements):
        if k in state["skip"]:
            continue
        if state["defs_only"] and not isinstance(stmt["tree"].body[0], DEFINITIONS_ONLY):
            continue
        send(fd, {"ev": "stmt_start", "k": k})
        try:
            code = compile(stmt["tree"], f"<cell {stmt['cell']}>", "exec")
            exec(code, namespace)
            end = {"ev": "stmt_end", "k": k, "ok": True}
        except BaseException as exc:
            end = {"ev": "stmt_end", "k": k, "ok": False}
            end["error"] = _describe_exception(exc)["error"][:300]
        restore_core(world)
        send(fd, end)
        if "torch" in sys.modules:
            cpu_only(sys.modules["torch"])
    restore_world(world, stdout)
    if os.getppid() == 1:
        # In the sandbox the calls are made by a fresh child: threads the notebook started in
        # this process (a thread that rewrites results, spins, holds locks) end with it. The
        # supervisor (PID 1) adopts the child when this process exits. First the supervisor
        # clears away the processes the notebook started, which may fill the process table.
        send(fd, {"ev": "clear"})
        os.read(ack_fd, 1)
        reap_children()
        runner = os.fork()
        if runner != 0:
            send(fd, {"ev": "ready", "pid": runner})
            os._exit(0)
        while os.getppid() != 1:  # speak only after "ready" was sent and this one adopted
            time.sleep(0.0005)
    else:
        send(fd, {"ev": "ready"})
    for group in call_groups(job["calls"], state["done"]):
        run_group(job, group, fd, ack_fd, (namespace, out_dir, world, stdout))
    send(fd, {"ev": "loader_done"})
    os._exit(0)


def reap_children() -> None:
    """Collect children that have ended (processes the notebook started, killed since)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


UNDELIVERED = "not started: its process ended before the call reached it"


class CallProcess:
    """The runner's handle on a call process: its pid, pipes and exit notification."""

    def __init__(self, pid: int, go: int, done: int) -> None:
        self.pid, self.go, self.done = pid, go, done
        try:  # a pidfd becomes readable when the process exits: no polling delay
            self.pidfd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self.pidfd = None

    def close(self) -> None:
        """Close its descriptors, once: a second close could hit a reused number."""
        for fd in (self.go, self.done, self.pidfd):
            if fd is not None and fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.go = self.done = -1
        self.pidfd = None


def start_call_process(
    job: dict[str, Any],
    context: tuple[dict[str, Any], str, dict[str, Any], Any],
    ack_fd: int,
    fd: int,
) -> CallProcess:
    namespace, out_dir, world, stdout = context
    go_read, go_write = os.pipe()
    done_read, done_write = os.pipe()
    stdout.flush()
    try:
        pid = os.fork()
    except OSError:
        for end in (go_read, go_write, done_read, done_write):
            os.close(end)
        raise
    if pid == 0:
        try:
            for end in (go_write, done_read, ack_fd, fd):
                os.close(end)
            call_process(job["calls"], namespace, out_dir, (go_read, done_write), world, stdout)
        finally:
            os._exit(1)
    os.close(go_read)
    os.close(done_write)
    return CallProcess(pid, go_write, done_read)


def run_group(
    job: dict[str, Any],
    group: list[int],
    fd: int,
    ack_fd: int,
    context: tuple[dict[str, Any], str, dict[str, Any], Any],
) -> None:
    """Run one function's calls in one call process, starting a fresh one after a call that
    ended its process (crash, exit, timeout); the process is killed when the group is done."""
    proc: CallProcess | None = None
    try:
        for index in group:
            call = job["calls"][index]
            timeout = float(call.get("timeout", job.get("call_timeout", 10.0)))
            send(fd, {"ev": "call_start", "n": index, "timeout": timeout})
            os.read(ack_fd, 1)  # the supervisor has cleared away other processes
            for _attempt in range(2):  # again in a fresh process if it ended between calls
                if proc is not None and not _alive(proc):
                    proc.close()
                    proc = None
                if proc is None:
                    try:
                        proc = start_call_process(job, context, ack_fd, fd)
                    except OSError as exc:  # out of processes even after the clearing
                        status = f"not started: {exc}"
                        break
                status, alive = wait_call(proc, index, timeout)
                if not alive:
                    proc.close()
                    proc = None
                if status != UNDELIVERED:
                    break
            send(fd, {"ev": "call_end", "n": index, "status": status})
    finally:
        if proc is not None:
            _end(proc)


def _alive(proc: CallProcess) -> bool:
    try:
        done, _ = os.waitpid(proc.pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == 0


def _end(proc: CallProcess) -> None:
    """Kill a call process and whatever it started in its process group, and reap it."""
    for target in (-proc.pid, proc.pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(target, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(proc.pid, 0)
    proc.close()


def _exit_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    code = os.WEXITSTATUS(status)
    return "exited" if code == 0 else f"exit {code}"


def wait_call(proc: CallProcess, index: int, timeout: float) -> tuple[str, bool]:
    """Send call `index` to the call process and wait for it: (status, process still alive).

    "exited" with a live process is a call that returned (its result file is written); a
    process that ended gives its exit status; one that overruns `timeout` is killed."""
    message = index.to_bytes(4, "little")
    try:
        os.write(proc.go, message)
    except OSError:  # it ended (or closed the harness's pipe) after its last call
        _end(proc)
        return UNDELIVERED, False
    deadline = time.monotonic() + timeout
    watched = [proc.done] + ([proc.pidfd] if proc.pidfd is not None else [])
    heard = b""  # what came back on the pipe: the index, after anything student code wrote
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            _end(proc)
            return "timeout", False
        ready, _, _ = select.select(
            watched, [], [], min(left, 0.002 if proc.pidfd is None else 0.5)
        )
        if proc.done in ready:
            chunk = os.read(proc.done, 4096)  # never blocks for more: the deadline holds
            if not chunk:  # it closed its end: wait for its exit only
                watched = [w for w in watched if w != proc.done]
            heard = (heard + chunk)[-4096:]
            if message in heard:
                return "exited", True
            continue
        if proc.pidfd is None or proc.pidfd in ready:
            try:
                done, status = os.waitpid(proc.pid, os.WNOHANG)
            except ChildProcessError:
                return "exited", False
            if done:
                return _exit_status(status), False


# ----------------------------------------------------------------------------- supervisor
def copy_in(source_dir: str, work_dir: str) -> None:
    """Copy the staged submission into the private, writable work folder."""
    for root, _dirs, files in os.walk(source_dir):
        target = os.path.join(work_dir, os.path.relpath(root, source_dir))
        os.makedirs(target, exist_ok=True)
        for name in files:
            source = os.path.join(root, name)
            if os.path.isfile(source) and not os.path.islink(source):
                shutil.copyfile(source, os.path.join(target, name))


def supervise(job_dir: str, work_dir: str, out_dir: str, source_dir: str = "") -> None:
    """Start loaders until every statement and call has run, failed, or been skipped."""
    with open(os.path.join(job_dir, "job.json"), encoding="utf-8") as fh:
        job = json.load(fh)
    for module in job.get("preimport", ["numpy"]):
        __import__(module)
    if "torch" not in sys.modules and any("torch" in str(c.get("source")) for c in job["cells"]):
        # Loaded once here rather than in every call's process (a function that imports
        # torch inside would otherwise pay seconds per call, and time out).
        with contextlib.suppress(ImportError):
            __import__("torch")
    import random  # noqa: F401  (loaded once here, not in every call's process)

    if "numpy" in sys.modules:
        import numpy.random  # noqa: F401  (numpy 2 loads it lazily: ~15 ms per call otherwise)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
        cpu_only(sys.modules["torch"])
    if source_dir:
        copy_in(source_dir, work_dir)
    os.makedirs(os.path.join(out_dir, "calls"), exist_ok=True)
    sys.path.insert(0, work_dir)
    os.chdir(work_dir)
    world = snapshot_world()
    events = os.path.join(out_dir, "events.jsonl")
    with (
        open(events, "a", encoding="utf-8", buffering=1) as log,
        open(os.path.join(out_dir, "stdout.txt"), "wb") as stdout_file,
    ):
        statements, notes = split_statements(job["cells"])
        for note in notes:
            log.write(json.dumps({"ev": "note", "text": note}) + "\n")
        log.write(json.dumps({"ev": "statements", "count": len(statements)}) + "\n")
        state: dict[str, Any] = {"skip": set(), "done": set(), "printed": 0, "defs_only": False}
        restarts = losses = 0
        while True:
            outcome = run_loader(job, statements, state, log, stdout_file, out_dir, world)
            if outcome is None:
                break
            restarts += 1
            where, index, reason = outcome
            if where == "stmt" and index not in state["skip"]:
                state["skip"].add(index)
                stmt = statements[index]
                event = {"ev": "stmt_skipped", "k": index, "cell": stmt["cell"]}
                event.update(line=stmt["line"], code=stmt["code"][:200], reason=reason)
            elif where == "call" and index not in state["done"]:
                state["done"].add(index)
                event = {"ev": "call_lost", "n": index, "reason": reason}
            else:
                losses += 1
                event = {"ev": "loader_lost", "reason": reason}
            log.write(json.dumps(event) + "\n")
            if len(state["skip"]) == DEGRADE_AFTER and where == "stmt":
                text = (
                    f"{DEGRADE_AFTER} statements were skipped for hanging or ending the process: "
                    "from then on each statement had 1 s"
                )
                log.write(json.dumps({"ev": "note", "text": text}) + "\n")
            if len(state["skip"]) >= MAX_SKIPPED and not state["defs_only"]:
                state["defs_only"] = True
                text = (
                    f"{MAX_SKIPPED} statements were skipped for hanging or ending the process: "
                    "from then on only imports, functions and classes were run"
                )
                log.write(json.dumps({"ev": "note", "text": text}) + "\n")
            if losses > MAX_LOADER_LOSSES:
                break
        if state["printed"] > STDOUT_CAP:
            lost = state["printed"] - STDOUT_CAP
            stdout_file.write(f"\n[... {lost} more bytes not kept]\n".encode())
        log.write(json.dumps({"ev": "harness_done", "restarts": restarts}) + "\n")


def run_loader(
    job: dict[str, Any],
    statements: list[dict[str, Any]],
    state: dict[str, Any],
    log: Any,
    stdout_file: Any,
    out_dir: str,
    world: dict[str, Any],
) -> tuple[str, int, str] | None:
    """Run one loader to its end. None when it finished; else what it was doing when it
    hung or died: ("stmt", k, reason), ("call", n, reason) or ("loader", -1, reason).

    The loader runs student code, so its events are claims: they are accepted only in an
    order the real loader could produce (a call ends only after it started, the loader is
    done only when every call has ended)."""
    ev_read, ev_write = os.pipe()
    out_read, out_write = os.pipe()
    ack_read, ack_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        # The loader runs student code: it keeps only its own ends of the pipes, not the
        # supervisor's files (events.jsonl, stdout.txt).
        for fd in (ev_read, out_read, ack_write, log.fileno(), stdout_file.fileno()):
            os.close(fd)
        os.dup2(out_write, 1)
        os.dup2(out_write, 2)
        sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", 0), write_through=True)
        sys.stderr = sys.stdout
        try:
            loader(job, statements, state, (ev_write, ack_read), out_dir, world)
        finally:
            os._exit(70)
    os.close(ev_write)
    os.close(out_write)
    os.close(ack_read)
    budgets = job["budgets"]
    current: tuple[str, int, float] | None = None  # ("stmt"|"call", index, deadline)
    buffer = b""
    finished = False
    reason = ""
    status: int | None = None
    open_fds = [ev_read, out_read]
    # A real loader is never silent between statements and calls for long: a loader that
    # falls silent outside a budgeted statement or call is treated as hanging.
    idle_budget = max(10.0, float(budgets["run_all"]))
    last_event = time.monotonic()
    while open_fds:
        if status is not None:
            timeout = 0.0
        elif current is None:
            timeout = 0.5
        else:
            timeout = min(0.5, max(0.0, current[2] - time.monotonic()))
        ready, _, _ = select.select(open_fds, [], [], timeout)
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.remove(fd)
            elif fd == out_read:
                stdout_file.write(chunk[: max(0, STDOUT_CAP - state["printed"])])
                state["printed"] += len(chunk)
            else:
                buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            event = parse_event(line)
            if event is None or event["ev"] not in LOADER_EVENTS:
                continue
            last_event = time.monotonic()
            kind, ident = event["ev"], event.get("n", event.get("k", -1))
            if kind == "stmt_start":
                if not 0 <= ident < len(statements) or ident in state["skip"]:
                    continue
                budget = float(budgets["run_all" if statements[ident]["role"] else "untagged"])
                if len(state["skip"]) >= DEGRADE_AFTER:
                    budget = min(budget, 1.0)
                current = ("stmt", ident, time.monotonic() + budget)
                continue  # routine: not logged
            if kind == "stmt_end":
                if current is None or current[:2] != ("stmt", ident):
                    continue
                current = None
                if event.get("ok") is True:
                    continue
            elif kind == "call_start":
                if not 0 <= ident < len(job["calls"]) or ident in state["done"]:
                    continue
                grace = float(job["calls"][ident].get("timeout", 10.0)) + 2.0
                current = ("call", ident, time.monotonic() + grace)
                kill_strays(keep=pid, keep_children=True)
                with contextlib.suppress(OSError):
                    os.write(ack_write, b"k")
            elif kind == "call_end":
                if current is None or current[:2] != ("call", ident):
                    continue
                state["done"].add(ident)
                current = None
            elif kind == "clear":
                if current is None:
                    kill_strays(keep=pid)
                with contextlib.suppress(OSError):
                    os.write(ack_write, b"k")
                continue  # routine: not logged
            elif kind == "ready":
                if current is not None:
                    continue
                runner = event.get("pid")
                if isinstance(runner, int) and runner > 1 and os.getpid() == 1:
                    pid, status = runner, None  # the calls' process; the loader has ended
            elif kind == "loader_done":
                if len(state["done"]) < len(job["calls"]):
                    continue
                finished = True
            log.write(json.dumps(event) + "\n")
        if finished or (status is not None and not ready):
            break
        if current is not None and time.monotonic() > current[2]:
            reason = "ran past its time budget"
            break
        if current is None and status is None and time.monotonic() - last_event > idle_budget:
            reason = "stopped reporting (the loader hung outside any statement or call)"
            break
        if status is None:
            try:
                exited, code = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # the runner, not adopted yet: its parent is ending
                exited, code = 0, 0
            if exited:
                status = code  # drain what it wrote, then stop
    if status is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:  # a runner whose parent had not ended yet
            status = signal.SIGKILL
    for fd in [*open_fds, ack_write]:
        os.close(fd)
    kill_leftovers()
    if finished:
        return None
    if not reason:
        reason = (
            f"killed by signal {os.WTERMSIG(status)}"
            if os.WIFSIGNALED(status)
            else f"exited with code {os.WEXITSTATUS(status)}"
        )
    if current is None:
        return ("loader", -1, reason)
    return (current[0], current[1], reason)


def parse_event(line: bytes) -> dict[str, Any] | None:
    """One event line from the loader, or None when it is not a well-formed event."""
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if not isinstance(event, dict) or not isinstance(event.get("ev"), str):
        return None
    for key in ("n", "k"):
        if key in event and (not isinstance(event[key], int) or isinstance(event[key], bool)):
            return None
    return event


def _sandbox_pids(keep: int) -> list[int]:
    """Every process of the sandbox except the supervisor (PID 1) and `keep`."""
    return [
        int(entry)
        for entry in os.listdir("/proc")
        if entry.isdigit() and int(entry) not in (1, keep)
    ]


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return int(fh.read().rsplit(b")", 1)[-1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def kill_strays(keep: int, keep_children: bool = False) -> None:
    """Before a call: kill what the notebook or earlier calls left running (not the loader,
    nor with keep_children the runner's own call process: its only children are those).

    Only as PID 1 of the sandbox's own PID namespace, where /proc lists exactly the sandbox's
    processes; the killed processes are reaped by their parents or, orphaned, by us.
    """
    if os.getpid() != 1:
        return
    targets = _sandbox_pids(keep)
    if keep_children:
        targets = [pid for pid in targets if _parent(pid) != keep]
    for pid in targets:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 1.0
    for pid in targets:
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            try:
                with open(f"/proc/{pid}/stat", "rb") as fh:
                    state = fh.read().rsplit(b")", 1)[-1].split()[0]
            except (OSError, IndexError):
                break
            if state in (b"Z", b"X"):
                break
            time.sleep(0.001)


def kill_leftovers() -> None:
    """Kill and reap every other process in the sandbox (background children of student code).

    As PID 1 of its own PID namespace the supervisor sees exactly the sandbox's processes in
    /proc; outside one (the unsandboxed fallback) it leaves others alone.
    """
    if os.getpid() == 1:
        for pid in _sandbox_pids(keep=1):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    flags = 0 if os.getpid() == 1 else os.WNOHANG
    while True:
        try:
            pid, _ = os.waitpid(-1, flags)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main(argv: list[str]) -> None:
    """argv: JOB_DIR WORK_DIR OUT_DIR SITE_DIRS [SOURCE_DIR]; SITE_DIRS is the
    os.pathsep-joined list of site-packages folders to import numpy (and torch) from."""
    sys.path.extend(p for p in argv[3].split(os.pathsep) if p)
    supervise(argv[0], argv[1], argv[2], argv[4] if len(argv) > 4 else "")
    # Its files are closed: skip the interpreter's teardown (numpy's, torch's), tens of ms.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
