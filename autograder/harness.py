"""The harness: the only grader code that runs inside the sandbox, next to student code.

It imports nothing from effdl or the checks: the standard library, numpy, and torch when the
assignment needs it. Usage (the sandbox runs it as an unprivileged user):

    python -I -S harness.py JOB_DIR WORK_DIR OUT_DIR SITE_DIRS

JOB_DIR/job.json (read-only) says which notebook statements to run and which calls to make.
WORK_DIR holds the submission's files. OUT_DIR receives, as plain data:
  events.jsonl   what happened (statements run, skipped, failed; calls started and ended)
  calls/N.json   the value each call returned, encoded by `encode` (no pickles, no objects)
  stdout.txt     the first STDOUT_CAP bytes the student's code printed

Three kinds of process, so that one misbehaving piece of student code costs only its own points:
- the supervisor (this process; PID 1 of the sandbox) runs no student code. It starts a loader,
  drains its output, enforces the time budgets, and restarts the loader without the statement
  that hung or killed it.
- the loader runs the notebook's definitions statement by statement, then forks one child per
  call so that a crash, an exit or a changed global in one call cannot reach the next.
- each call child rebuilds its inputs from job.json, calls the function, writes the result.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import copy
import io
import json
import os
import re
import select
import signal
import sys
import time
import traceback
from typing import Any

STDOUT_CAP = 64 * 1024
STRING_CAP = 20_000
VALUE_BYTES_CAP = 32 * 1024 * 1024
MAX_DEPTH = 12
MAX_RESTARTS = 4
ARRAY_KINDS = "biufc"

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
                    "code": ast.get_source_segment(source, node) or "",
                    "tree": ast.Module(body=[node], type_ignores=[]),
                }
            )
    return statements, notes


# ----------------------------------------------------------------------------- data out
def encode(value: Any, depth: int = 0) -> Any:
    """Encode a returned value as JSON-ready data; anything that is not data is refused.

    Arrays and tensors become {"__ndarray__": base64, "dtype", "shape"}; tuples, NaN and
    infinities are tagged; objects of other types become {"__unsupported__": type name}
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
            return {"__float__": repr(float(value))}
        return value
    if type(value) is float:
        return (
            value if value == value and abs(value) != float("inf") else {"__float__": repr(value)}
        )
    if type(value) in (list, tuple):
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
        array = np.ascontiguousarray(array)
        return {
            "__ndarray__": base64.b64encode(array.tobytes()).decode("ascii"),
            "dtype": array.dtype.str,
            "shape": list(array.shape),
        }
    return {"__unsupported__": type(value).__module__ + "." + type(value).__qualname__}


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
    if weights:
        state = net.state_dict()
        for name, value in weights.items():
            state[name] = torch.as_tensor(value, dtype=state[name].dtype)
        net.load_state_dict(state)
    return net


def weights_of(net: Any) -> dict[str, Any]:
    """Every conv and linear weight of a net, as numpy arrays by state-dict name."""
    return {
        name: value.detach().cpu().numpy().copy()
        for name, value in net.state_dict().items()
        if name.endswith(".weight") and value.dim() in (2, 4)
    }


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
        returned = fn(layer, spec["q"])
        return {"weight": layer.weight, "returned_none": returned is None}
    if mode in ("global_prune", "finetune"):
        fn = find_name(namespace, call["func"])
        torch.manual_seed(0)
        net = tiny_net(torch, spec["weights"])
        if mode == "global_prune":
            fn(net, spec["q"])
            return {"weights": weights_of(net)}
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
        returned = fn(net, loader, torch.nn.CrossEntropyLoss(), opt, prune=True)
        return {"weights": weights_of(net), "returned": returned}
    raise ValueError(f"unknown call mode {mode!r}")


def call_child(call: dict[str, Any], index: int, namespace: dict[str, Any], out_dir: str) -> None:
    """Body of one call's process: seed, run, encode, write atomically, exit."""
    os.setpgid(0, 0)
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
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
        record = {
            "status": "error",
            "error": f"{type(exc).__name__}: {str(exc)[:2000]}",
            "error_type": type(exc).__name__,
            "traceback": "".join(tb[-6:])[-4000:],
        }
    record["seconds"] = time.perf_counter() - started
    path = os.path.join(out_dir, "calls", f"{index}.json")
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        json.dump(record, fh, allow_nan=False)
    os.replace(path + ".tmp", path)
    os._exit(0)


# ----------------------------------------------------------------------------- loader
def send(fd: int, event: dict[str, Any]) -> None:
    os.write(fd, (json.dumps(event) + "\n").encode())


def loader(job: dict[str, Any], skip: set[int], done: set[int], fd: int, out_dir: str) -> None:
    """Run the notebook's statements, then each call in its own child. Never returns."""
    statements, _ = split_statements(job["cells"])
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    for k, stmt in enumerate(statements):
        if k in skip:
            continue
        send(fd, {"ev": "stmt_start", "k": k})
        try:
            code = compile(stmt["tree"], f"<cell {stmt['cell']}>", "exec")
            exec(code, namespace)
            send(fd, {"ev": "stmt_end", "k": k, "ok": True})
        except BaseException as exc:
            msg = f"{type(exc).__name__}: {str(exc)[:300]}"
            send(fd, {"ev": "stmt_end", "k": k, "ok": False, "error": msg})
        if "torch" in sys.modules:
            cpu_only(sys.modules["torch"])
    send(fd, {"ev": "ready"})
    for index, call in enumerate(job["calls"]):
        if index in done:
            continue
        timeout = float(call.get("timeout", job.get("call_timeout", 10.0)))
        send(fd, {"ev": "call_start", "n": index, "timeout": timeout})
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            call_child(call, index, namespace, out_dir)
        status = wait_child(pid, timeout)
        send(fd, {"ev": "call_end", "n": index, "status": status})
    send(fd, {"ev": "loader_done"})
    os._exit(0)


def wait_child(pid: int, timeout: float) -> str:
    """Wait for a call's process; kill its process group when it overruns its budget."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            if os.WIFSIGNALED(status):
                return f"signal {os.WTERMSIG(status)}"
            code = os.WEXITSTATUS(status)
            return "exited" if code == 0 else f"exit {code}"
        if time.monotonic() > deadline:
            for target in (-pid, pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(target, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout"
        time.sleep(0.002)


# ----------------------------------------------------------------------------- supervisor
def supervise(job_dir: str, work_dir: str, out_dir: str) -> None:
    """Start loaders until every statement and call has run, failed, or been skipped."""
    with open(os.path.join(job_dir, "job.json"), encoding="utf-8") as fh:
        job = json.load(fh)
    for module in job.get("preimport", ["numpy"]):
        __import__(module)
    import random  # noqa: F401  (loaded once here, not in every call's process)

    if "numpy" in sys.modules:
        import numpy.random  # noqa: F401  (numpy 2 loads it lazily: ~15 ms per call otherwise)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
        cpu_only(sys.modules["torch"])
    os.makedirs(os.path.join(out_dir, "calls"), exist_ok=True)
    sys.path.insert(0, work_dir)
    os.chdir(work_dir)
    events = os.path.join(out_dir, "events.jsonl")
    with (
        open(events, "a", encoding="utf-8", buffering=1) as log,
        open(os.path.join(out_dir, "stdout.txt"), "wb") as stdout_file,
    ):
        statements, notes = split_statements(job["cells"])
        for note in notes:
            log.write(json.dumps({"ev": "note", "text": note}) + "\n")
        log.write(json.dumps({"ev": "statements", "count": len(statements)}) + "\n")
        state = {"skip": set(), "done": set(), "printed": 0}
        restarts = 0
        while restarts <= MAX_RESTARTS:
            outcome = run_loader(job, statements, state, log, stdout_file, out_dir)
            if outcome is None:
                break
            restarts += 1
            where, index, reason = outcome
            if where == "stmt":
                state["skip"].add(index)
                stmt = statements[index]
                event = {"ev": "stmt_skipped", "k": index, "cell": stmt["cell"]}
                event.update(line=stmt["line"], code=stmt["code"][:200], reason=reason)
            elif where == "call":
                state["done"].add(index)
                event = {"ev": "call_lost", "n": index, "reason": reason}
            else:
                event = {"ev": "loader_lost", "reason": reason}
            log.write(json.dumps(event) + "\n")
            if where == "loader" and restarts >= 2:
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
) -> tuple[str, int, str] | None:
    """Run one loader to its end. None when it finished; else what it was doing when it
    hung or died: ("stmt", k, reason), ("call", n, reason) or ("loader", -1, reason)."""
    ev_read, ev_write = os.pipe()
    out_read, out_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ev_read)
        os.close(out_read)
        os.dup2(out_write, 1)
        os.dup2(out_write, 2)
        sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", 0), write_through=True)
        sys.stderr = sys.stdout
        try:
            loader(job, state["skip"], state["done"], ev_write, out_dir)
        finally:
            os._exit(70)
    os.close(ev_write)
    os.close(out_write)
    budgets = job["budgets"]
    current: tuple[str, int, float] | None = None  # ("stmt"|"call", index, deadline)
    buffer = b""
    finished = False
    reason = ""
    status: int | None = None
    open_fds = [ev_read, out_read]
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
            if event is None:
                continue
            log.write(json.dumps(event) + "\n")
            kind, ident = event["ev"], event.get("n", event.get("k", -1))
            if kind == "stmt_start" and 0 <= ident < len(statements):
                budget = budgets["run_all" if statements[ident]["role"] else "untagged"]
                current = ("stmt", ident, time.monotonic() + float(budget))
            elif kind == "call_start" and 0 <= ident < len(job["calls"]):
                grace = float(job["calls"][ident].get("timeout", 10.0)) + 2.0
                current = ("call", ident, time.monotonic() + grace)
            elif kind == "call_end":
                state["done"].add(ident)
                current = None
            elif kind in ("stmt_end", "ready"):
                current = None
            elif kind == "loader_done":
                finished = True
        if finished or (status is not None and not ready):
            break
        if current is not None and time.monotonic() > current[2]:
            reason = "ran past its time budget"
            break
        if status is None:
            exited, code = os.waitpid(pid, os.WNOHANG)
            if exited:
                status = code  # drain what it wrote, then stop
    if status is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    for fd in open_fds:
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
        if key in event and not isinstance(event[key], int):
            return None
    return event


def kill_leftovers() -> None:
    """Kill and reap every other process in the sandbox (background children of student code).

    As PID 1 of its own PID namespace the supervisor sees exactly the sandbox's processes in
    /proc; outside one (the unsandboxed fallback) it leaves others alone.
    """
    if os.getpid() == 1:
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != 1:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(entry), signal.SIGKILL)
    flags = 0 if os.getpid() == 1 else os.WNOHANG
    while True:
        try:
            pid, _ = os.waitpid(-1, flags)
        except ChildProcessError:
            return
        if pid == 0:
            return


if __name__ == "__main__":
    # argv: JOB_DIR WORK_DIR OUT_DIR SITE_DIRS (os.pathsep-joined site-packages to import from)
    sys.path.extend(p for p in sys.argv[4].split(os.pathsep) if p)
    supervise(sys.argv[1], sys.argv[2], sys.argv[3])
