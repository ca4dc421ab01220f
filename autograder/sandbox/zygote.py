"""The warm parent of sandbox runs: a Python that has imported what an assignment pre-imports
(numpy; numpy, torch and torch._dynamo) and forks each submission's supervisor from there.

It runs as a script (stdlib only, `python -s -S -P zygote.py SOCKET_FD GO_FD SITES MODULE...`),
as root, outside any sandbox, started by autograder/sandbox/warm.py with the sandbox's
environment, and it never runs student code. After its imports it only waits for a byte on
GO_FD and forks: its memory is the same at every fork (children are reaped by the kernel, the
one int a fork returns is freed at once, and one fork before the first request makes the
first like the others), so object addresses repeat between runs, and nothing of one run ever
reaches it. Per run:

  S, the fork: reads the run's request from the socket (padded to REQUEST_BYTES, so its
     allocations are the same each time) with the run's pipes, the sandbox's namespaces and
     the run's control groups as descriptors (no pid or path travels); joins the control
     groups, enters the sandbox's ipc, uts, net, cgroup and mount namespaces, unshares a PID
     namespace, forks C2, says {"started": C2's host pid}, waits, says {"exit": status};
  C2, PID 1 of that PID namespace: mounts its own /proc (with the fixed uptime and loadavg
     files and the read-only parts bwrap covers), sets the rlimits, keeps only the two pipes,
     installs the seccomp filter, drops every capability, becomes the worker uid, and returns
     up the stack to this file's top level, which deletes its own names and runs the
     supervisor exactly as the cold sandbox's `-c` line does: from the bottom frame, with no
     frame or name of the zygote left (the same recursion depth, nothing to read back).

A failure before the supervisor starts exits with SETUP_FAILED and says why on the run's
stderr pipe.
"""

import ctypes
import json
import os
import signal
import socket
import sys
import traceback

SETUP_FAILED = 125
REQUEST_BYTES = 16384  # every request is padded to this size
CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS = 0x00020000, 0x02000000, 0x04000000
CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWPID = 0x08000000, 0x40000000, 0x20000000
# the namespace descriptors come in this order (mnt last: after it the host's files are gone)
NAMESPACES = ("ipc", "uts", "net", "cgroup", "mnt")
NAMESPACE_FLAGS = (CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWNS)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC = 32, 4096, 16384
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
PR_SET_SECCOMP, SECCOMP_MODE_FILTER, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 22, 2, 47, 4
PROC_COVERED = ("sys", "sysrq-trigger", "irq", "bus")  # read-only, as bwrap's --proc does
FIXED_PROC = ("uptime", "loadavg")  # bound from /grader/fixed, as the cold sandbox does
RLIMITS = ("DATA", "CPU", "FSIZE", "NOFILE", "CORE", "NPROC")

_libc = ctypes.CDLL(None, use_errno=True)
BASE_PATH = list(sys.path)  # the interpreter's own path, before the site folders


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source, target, fstype, flags):
    enc = [None if s is None else s.encode() for s in (source, target, fstype)]
    _check(_libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), None), f"mount {target}")


def _bind_read_only(source, target):
    _mount(source, target, None, MS_BIND | MS_REC)
    flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
    _mount(None, target, None, flags)


def _prctl(option, arg=0):
    _check(_libc.prctl(option, arg, 0, 0, 0), f"prctl {option}")


def _enter(namespaces, groups):
    """S: join the run's control groups, then the sandbox's namespaces."""
    for fd in groups:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
    for fd, kind in zip(namespaces, NAMESPACE_FLAGS):
        _check(_libc.setns(fd, kind), f"setns {kind:#x}")
        os.close(fd)
    os.chdir("/submission")
    _check(_libc.unshare(CLONE_NEWPID), "unshare(CLONE_NEWPID)")


def _own_proc():
    """C2: a /proc of its own PID namespace, covered as the cold sandbox's is."""
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for name in PROC_COVERED:
        if os.path.exists(f"/proc/{name}"):
            _bind_read_only(f"/proc/{name}", f"/proc/{name}")
    for name in FIXED_PROC:
        _bind_read_only(f"/grader/fixed/{name}", f"/proc/{name}")


def _install_filter(program):
    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    buffer = ctypes.create_string_buffer(program, len(program))
    prog = SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    result = _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0)
    _check(result, "seccomp filter")


def _drop_to(uid, last_cap):
    for cap in range(last_cap + 1):
        _prctl(PR_CAPBSET_DROP, cap)
    _check(_libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "ambient caps")
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def _become_supervisor(request, channel_fd, stderr_fd):
    """C2, PID 1 of its namespace: limits, descriptors, filter, uid. Returns the supervisor's
    argv, with the interpreter's state as the cold sandbox's Python has it."""
    import importlib.machinery
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
    os.environ["PWD"] = os.getcwd()  # as bwrap --chdir sets it
    launch, *argv = request["argv"]
    sys.argv = ["-c", *argv]
    sys.orig_argv = [sys.executable, *request["flags"], "-c", launch, *argv]
    sys.path[:] = BASE_PATH
    for entry in [e for e in sys.path_importer_cache if e not in BASE_PATH]:
        del sys.path_importer_cache[entry]  # the site folders come back; the script's goes
    main = sys.modules["__main__"]
    main.__loader__ = importlib.machinery.BuiltinImporter
    main.__annotations__ = {}
    vars(main).pop("__file__", None)
    return sys.argv


def _serve_one(sock):
    """S: one request. Joins the run's control groups, enters the sandbox, forks C2 into a
    fresh PID namespace and reports its host pid and, once it has ended, its exit status.
    Returns only in C2, with the supervisor's argv."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    stderr_fd = 2
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        data, fds, _flags, _addr = socket.recv_fds(sock, REQUEST_BYTES, 64)
        request = json.loads(data)
        if len(data) != REQUEST_BYTES or len(fds) != 2 + len(NAMESPACES) + request["groups"]:
            raise ValueError(f"a request of {len(data)} bytes and {len(fds)} descriptors")
        channel_fd, stderr_fd = fds[0], fds[1]
        _enter(fds[2 : 2 + len(NAMESPACES)], fds[2 + len(NAMESPACES) :])
        pid = os.fork()
        if pid == 0:
            try:
                sock.close()
                return _become_supervisor(request, channel_fd, stderr_fd)
            except BaseException:
                os.write(stderr_fd, f"warm sandbox: {traceback.format_exc()}".encode())
                os._exit(SETUP_FAILED)
        os.close(channel_fd)
        os.close(stderr_fd)
        sock.send(json.dumps({"started": pid}).encode())
        _, status = os.waitpid(pid, 0)
        sock.send(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode())
    except BaseException as exc:
        with_trace = f"warm sandbox: {traceback.format_exc()}"
        try:
            os.write(stderr_fd, with_trace.encode())
            sock.send(json.dumps({"failed": f"{type(exc).__name__}: {exc}"}).encode())
        except OSError:
            pass
    os._exit(0)


def _serve(argv):
    """Import the modules, say so, then fork S for every byte on GO_FD; returns only in C2."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker that started it decides
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps S: nothing to wait for
    sock = socket.socket(fileno=int(argv[0]))
    go = int(argv[1])
    sys.path.extend(p for p in argv[2].split(os.pathsep) if p)
    for module in argv[3:]:
        __import__(module)
    if os.fork() == 0:  # so that the first request's fork is like every later one's
        os._exit(0)
    sock.send(json.dumps({"ready": argv[3:]}).encode())
    while os.read(go, 1):
        if os.fork() == 0:
            return _serve_one(sock)
    os._exit(0)


KEPT = ("__name__", "__doc__", "__package__", "__loader__", "__spec__", "__annotations__")

if __name__ == "__main__":
    sys.argv = _serve(sys.argv[1:])  # returns only in a run's supervisor, C2
    for _name in [n for n in globals() if n not in (*KEPT, "__builtins__", "sys")]:
        del globals()[_name]
    del _name
    __doc__ = None  # as the -c line's module has it
    # from here on exactly autograder.sandbox.install.LAUNCH, from the bottom frame
    sys.path[:] = [sys.argv[1]] + [p for p in sys.path if p not in ("", ".")]
    import harness.supervisor as s

    s.main(sys.argv[1:])
