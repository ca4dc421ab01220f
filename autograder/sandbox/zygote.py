"""The warm parent of sandbox runs: a Python that has imported what an assignment pre-imports
(numpy; numpy, torch and torch._dynamo) and forks each submission's supervisor from there.

It runs as a script (stdlib only, `python -s -S -P zygote.py FD SITES MODULE...`), as root, outside
any sandbox, started by autograder/sandbox/warm.py with the sandbox's environment, and it
never runs student code: it only imports those modules, then answers spawn requests on the
socket at fd FD. A request carries numbers only (the host pid of a waiting bwrap sandbox, the
worker uid, the limits, the run's control groups, the seccomp program) and the run's two
pipes, so nothing of one submission is ever in its memory for the next to find. For each:

  C1, a fork: joins the run's control groups, enters the sandbox's ipc, uts, net, cgroup and
      mount namespaces (after which it sees only the sandbox's files), unshares a PID
      namespace and forks C2, whose exit status it relays;
  C2, PID 1 of that fresh PID namespace: mounts its own /proc (with the fixed uptime and
      loadavg files and the read-only parts bwrap covers), sets the rlimits, closes every
      descriptor but the two pipes, installs the seccomp filter, drops every capability and
      becomes the worker uid, then runs the supervisor exactly as the cold sandbox's Python
      would (autograder.sandbox.install.LAUNCH with the same arguments).

So the supervisor is PID 1 of its namespace, as in the cold path (everything dies with it,
and signals from inside that it does not handle do not reach it). A child's failure before
the supervisor starts exits with SETUP_FAILED and says why on the run's stderr pipe.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import struct
import sys
import traceback

SETUP_FAILED = 125
CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS = 0x00020000, 0x02000000, 0x04000000
CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWPID = 0x08000000, 0x40000000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC = 32, 4096, 16384
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
PR_SET_SECCOMP, SECCOMP_MODE_FILTER, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 22, 2, 47, 4
# entered in this order; mnt last, since after it the host's /proc is gone
NAMESPACES = (
    ("ipc", CLONE_NEWIPC),
    ("uts", CLONE_NEWUTS),
    ("net", CLONE_NEWNET),
    ("cgroup", CLONE_NEWCGROUP),
    ("mnt", CLONE_NEWNS),
)
PROC_COVERED = ("sys", "sysrq-trigger", "irq", "bus")  # read-only, as bwrap's --proc does
FIXED_PROC = ("uptime", "loadavg")  # bound from /grader/fixed, as the cold sandbox does
RLIMITS = ("DATA", "CPU", "FSIZE", "NOFILE", "CORE", "NPROC")

_libc = ctypes.CDLL(None, use_errno=True)
BASE_PATH = list(sys.path)  # the interpreter's own path, before the site folders


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int) -> None:
    enc = [None if s is None else s.encode() for s in (source, target, fstype)]
    _check(_libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), None), f"mount {target}")


def _bind_read_only(source: str, target: str) -> None:
    _mount(source, target, None, MS_BIND | MS_REC)
    flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
    _mount(None, target, None, flags)


def _prctl(option: int, arg: int | ctypes.c_void_p = 0) -> None:
    _check(_libc.prctl(option, arg, 0, 0, 0), f"prctl {option}")


def _enter(sandbox_pid: int, groups: list[str]) -> None:
    """C1: join the run's control groups, then the sandbox's namespaces."""
    for folder in groups:
        with open(os.path.join(folder, "cgroup.procs"), "w") as fh:
            fh.write(str(os.getpid()))
    fds = [
        (os.open(f"/proc/{sandbox_pid}/ns/{name}", os.O_RDONLY), kind) for name, kind in NAMESPACES
    ]
    for fd, kind in fds:
        _check(_libc.setns(fd, kind), f"setns {kind:#x}")
        os.close(fd)
    os.chdir("/submission")
    _check(_libc.unshare(CLONE_NEWPID), "unshare(CLONE_NEWPID)")


def _own_proc() -> None:
    """C2: a /proc of its own PID namespace, covered as the cold sandbox's is."""
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for name in PROC_COVERED:
        if os.path.exists(f"/proc/{name}"):
            _bind_read_only(f"/proc/{name}", f"/proc/{name}")
    for name in FIXED_PROC:
        _bind_read_only(f"/grader/fixed/{name}", f"/proc/{name}")


def _install_filter(program: bytes) -> None:
    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    buffer = ctypes.create_string_buffer(program, len(program))
    prog = SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    _check(
        _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0),
        "seccomp filter",
    )


def _drop_to(uid: int, last_cap: int) -> None:
    for cap in range(last_cap + 1):
        _prctl(PR_CAPBSET_DROP, cap)
    _check(_libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "ambient caps")
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def _become_supervisor(request: dict, channel_fd: int, stderr_fd: int) -> None:
    """C2, PID 1 of its namespace: limits, descriptors, filter, uid; then the supervisor."""
    import resource

    with open("/proc/sys/kernel/cap_last_cap") as fh:  # the host's, before our /proc
        last_cap = int(fh.read())
    _own_proc()
    os.setsid()
    for name, value in zip(RLIMITS, request["rlimits"]):
        limit = getattr(resource, f"RLIMIT_{name}")
        resource.setrlimit(limit, (value, value))
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(channel_fd, 1)
    os.dup2(stderr_fd, 2)
    os.closerange(3, 65536)
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    if request.get("seccomp"):
        _install_filter(bytes.fromhex(request["seccomp"]))
    _drop_to(request["uid"], last_cap)
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # cleared by the uid change: set after it
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as a fresh interpreter has
    launch, *argv = request["argv"]
    sys.argv = ["-c", *argv]
    sys.path[:] = BASE_PATH
    os.environ["PWD"] = os.getcwd()  # as bwrap --chdir sets it
    main = type(sys)("__main__")
    main.__annotations__ = {}
    sys.modules["__main__"] = main
    exec(compile(launch, "<string>", "exec"), main.__dict__)
    os._exit(0)


def _child(request: dict, fds: list[int], report: int) -> None:
    """C1: enter the sandbox, fork C2 into a fresh PID namespace, relay its exit status."""
    channel_fd, stderr_fd = fds
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        _enter(request["pid"], request["cgroups"])
        pid = os.fork()
        if pid == 0:
            try:
                os.close(report)
                _become_supervisor(request, channel_fd, stderr_fd)
            except BaseException:
                os.write(stderr_fd, f"warm sandbox: {traceback.format_exc()}".encode())
            os._exit(SETUP_FAILED)
        os.write(report, struct.pack("=i", pid))
        os.close(report)
        for fd in fds:
            os.close(fd)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        os._exit(code if code >= 0 else 128 - code)
    except BaseException:
        os.write(stderr_fd, f"warm sandbox: {traceback.format_exc()}".encode())
        os._exit(SETUP_FAILED)


def serve(sock: socket.socket) -> None:
    """Answer spawn requests until the socket closes: for each, reply {"started": C2's host
    pid} (or {"failed": why}), then {"exit": status} once C1 has ended."""
    while True:
        try:
            data, fds, _flags, _addr = socket.recv_fds(sock, 1 << 16, 2)
        except OSError:
            return
        if not data:
            return
        try:
            request = json.loads(data)
            if len(fds) != 2:
                raise ValueError(f"a spawn request carries 2 descriptors, not {len(fds)}")
            report_read, report_write = os.pipe()
            c1 = os.fork()
            if c1 == 0:
                sock.close()
                os.close(report_read)
                _child(request, fds, report_write)
            os.close(report_write)
            for fd in fds:
                os.close(fd)
            got = os.read(report_read, 4)
            os.close(report_read)
            started = struct.unpack("=i", got)[0] if len(got) == 4 else None
            sock.send(json.dumps({"started": started, "c1": c1}).encode())
            _, status = os.waitpid(c1, 0)
            sock.send(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode())
        except Exception as exc:  # noqa: BLE001  (the grader retires this zygote)
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
            sock.send(json.dumps({"failed": f"{type(exc).__name__}: {exc}"}).encode())


def main(argv: list[str]) -> None:
    """argv: SOCKET_FD SITE_DIRS MODULE...; import the modules, say so, then serve."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker that started it decides
    sock = socket.socket(fileno=int(argv[0]))
    sys.path.extend(p for p in argv[1].split(os.pathsep) if p)
    for module in argv[2:]:
        __import__(module)
    sock.send(json.dumps({"ready": argv[2:]}).encode())
    serve(sock)


if __name__ == "__main__":
    main(sys.argv[1:])
