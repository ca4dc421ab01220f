"""The clock and the entropy student code sees: the same at every grading of the same bytes.

A grade must not depend on when or where it was computed. The call-twice check (calls.py)
catches a graded function that reads the clock or os.urandom itself, but not a value read
once at top level and kept in a global: both runs of every call see it, yet each grading
sees another. So, before any student code runs, the supervisor replaces the usual sources:

- the clocks (time.time, time_ns, monotonic, perf_counter, process_time, thread_time and
  their _ns forms, clock_gettime, localtime/gmtime/ctime/asctime/strftime without a time,
  datetime.datetime.now/utcnow/today, datetime.date.today, os.times, and uuid.uuid1 through
  them): one virtual clock, starting at
  EPOCH_NS and moving on by TICK_NS at every reading and by the seconds of every
  time.sleep (which still sleeps);
- the entropy (os.urandom, os.getrandom, random._urandom under random.SystemRandom and
  secrets, hence numpy's unseeded generators and uuid.uuid4, random.seed() and
  random.Random() without a seed, torch.seed()): one stream seeded from the job, so per
  submission;
- outside Python, the sandbox binds a file of seeded bytes over /dev/urandom and /dev/random
  and fixed text over /proc/uptime and /proc/loadavg, and starts Python with address
  randomization off, so that id() and hash() of objects, thread idents and pids repeat.

Both streams go on across statements, calls and the two runs of a call, so the call-twice
check still sees code that draws from them; a process forked from another starts where its
parent was, so every process sees the same sequence at every grading.

The harness's own code keeps the real clock: its modules take `monotonic`, `perf_counter`
and `sleep` from here, bound when the harness is imported, and any reading of the replaced
functions from a module of the harness or of an assignment's fixtures (which time their own
deadlines with time.monotonic) is a real one. world.py snapshots the world after `install`,
so putting the world back keeps the replacements for student code.

What remains possible: code that asks the kernel itself (ctypes: getrandom, clock_gettime,
rdtsc), reads other files that change (/proc/self/stat, /proc/stat, /proc/interrupts,
/proc/meminfo), races threads or processes against each other, or reaches the real functions
(this module is in sys.modules), or resource.getrusage. None of that is an accident, and all
of it only makes the attacker's own grade random: nothing it does reaches another
submission's grade, and a regrade of the same bytes that scores otherwise is flagged to the
staff (commands/batch.py: regrade_changed).
"""

from __future__ import annotations

import datetime as _datetime
import os
import random
import sys
import time
from typing import Any

# The real clock, bound before any student code runs: the harness times itself with these.
monotonic = time.monotonic
perf_counter = time.perf_counter
sleep = time.sleep

EPOCH_NS = 1_735_689_600 * 10**9  # 2025-01-01 00:00:00 UTC: what time.time() starts from
MONOTONIC_NS = 1_000 * 10**9  # what time.monotonic() and perf_counter() start from
TICK_NS = 1_000  # each reading of a clock moves it on by one microsecond
REAL_FOR = ("harness.", "fixtures.")  # modules whose readings are real

_REAL: dict[str, Any] = {
    name: getattr(time, name)
    for name in ("time", "localtime", "gmtime", "ctime", "asctime", "strftime", "clock_gettime")
    + ("time_ns", "monotonic_ns", "perf_counter_ns", "process_time", "process_time_ns")
    + ("thread_time", "thread_time_ns", "clock_gettime_ns")
    if hasattr(time, name)
}
_REAL.update(monotonic=monotonic, perf_counter=perf_counter, sleep=sleep)
_REAL_DATE, _REAL_DATETIME = _datetime.date, _datetime.datetime


class _State:
    """The virtual clock (nanoseconds since it started) and the entropy stream. One object,
    changed in place: putting a module's names back never rewinds it."""

    def __init__(self, seed: int) -> None:
        self.ns = 0
        self.stream = random.Random(seed)

    def tick(self) -> int:
        self.ns += TICK_NS
        return self.ns


_STATE = _State(0)


def _real_caller() -> bool:
    """Whether the function reading a clock (two frames up) belongs to the harness or to a
    fixture: those time their own deadlines and get the real clock."""
    try:
        name = sys._getframe(2).f_globals.get("__name__", "")
    except ValueError:
        return False
    return isinstance(name, str) and name.startswith(REAL_FOR)


def _clock(name: str, base: int, scale: float | None) -> Any:
    """A replacement for time.<name>: base + the virtual clock, in seconds (scale) or ns."""
    real = _REAL[name]

    def read() -> Any:
        if _real_caller():
            return real()
        ns = base + _STATE.tick()
        return ns if scale is None else ns * scale

    read.__name__ = read.__qualname__ = name
    read.__doc__ = real.__doc__
    return read


def student_perf_counter() -> float:
    """perf_counter() as student code sees it (for what the harness prints on its behalf,
    such as %time's wall time)."""
    return (MONOTONIC_NS + _STATE.tick()) * 1e-9


def _now() -> float:
    return (EPOCH_NS + _STATE.tick()) * 1e-9


def _sleep(seconds: float) -> None:
    sleep(seconds)
    if not _real_caller() and seconds > 0:
        _STATE.ns += int(seconds * 1e9)


def _clock_gettime(clock: int) -> float:
    if _real_caller():
        return _REAL["clock_gettime"](clock)
    base = EPOCH_NS if clock == time.CLOCK_REALTIME else MONOTONIC_NS
    return (base + _STATE.tick()) * 1e-9


def _clock_gettime_ns(clock: int) -> int:
    if _real_caller():
        return _REAL["clock_gettime_ns"](clock)
    return (EPOCH_NS if clock == time.CLOCK_REALTIME else MONOTONIC_NS) + _STATE.tick()


def _with_now(name: str) -> Any:
    """time.localtime/gmtime/ctime (secs=None) on the virtual clock."""
    real = _REAL[name]

    def at(secs: float | None = None) -> Any:
        return real(_now() if secs is None else secs)

    at.__name__ = at.__qualname__ = name
    return at


def _asctime(t: Any = None) -> str:
    return _REAL["asctime"](_REAL["localtime"](_now()) if t is None else t)


def _strftime(fmt: str, t: Any = None) -> str:
    return _REAL["strftime"](fmt, _REAL["localtime"](_now()) if t is None else t)


def urandom(size: int) -> bytes:
    """os.urandom from the seeded stream."""
    if not isinstance(size, int) or size < 0:
        raise ValueError("negative argument not allowed")
    return _STATE.stream.randbytes(size)


def _getrandom(size: int, flags: int = 0) -> bytes:
    return urandom(size)


_real_seed = random.Random.seed


def _seed(self: random.Random, a: Any = None, version: int = 2) -> None:
    """random.Random.seed: with no seed, one from the seeded stream instead of the kernel's."""
    if a is None:
        a = int.from_bytes(urandom(32), "little")
    _real_seed(self, a, version)


class _AnyDate(type):
    """isinstance and issubclass against the replaced classes answer for the real ones."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, cls.__mro__[1])

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, cls.__mro__[1])


class date(_REAL_DATE, metaclass=_AnyDate):  # noqa: N801  (named as the class it stands for)
    """datetime.date whose today() reads the virtual clock; it makes real dates."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return _REAL_DATE(*args, **kwargs)

    @classmethod
    def today(cls) -> Any:
        return _REAL_DATE.fromtimestamp(_now())


class datetime(_REAL_DATETIME, metaclass=_AnyDate):  # noqa: N801
    """datetime.datetime whose now/utcnow/today read the virtual clock; it makes real ones."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return _REAL_DATETIME(*args, **kwargs)

    @classmethod
    def now(cls, tz: Any = None) -> Any:
        return _REAL_DATETIME.fromtimestamp(_now(), tz)

    @classmethod
    def today(cls) -> Any:
        return _REAL_DATETIME.fromtimestamp(_now())

    @classmethod
    def utcnow(cls) -> Any:
        return _REAL_DATETIME.fromtimestamp(_now(), _datetime.timezone.utc).replace(tzinfo=None)


for _cls, _real in ((date, _REAL_DATE), (datetime, _REAL_DATETIME)):
    _cls.__module__, _cls.__doc__ = "datetime", _real.__doc__


def _times() -> os.times_result:
    """os.times() on the virtual clock: the process's CPU time and the elapsed time both
    advance with it (a child's are 0)."""
    seconds = _STATE.tick() * 1e-9
    return os.times_result((seconds, 0.0, 0.0, 0.0, MONOTONIC_NS * 1e-9 + seconds))


def _fix_uuid() -> None:
    """uuid1() from the virtual clock and the seeded stream: without libuuid's own call
    (which reads the real clock) uuid falls back on time.time_ns() and random."""
    import uuid

    if hasattr(uuid, "_generate_time_safe"):
        uuid._generate_time_safe = None
    uuid._last_timestamp = None


def install(seed: int) -> None:
    """Replace the clocks and the entropy sources, from now on, in this process and every
    process it forks (once, before any student code runs)."""
    global _STATE
    _STATE = _State(seed)
    for name, base in (("time", EPOCH_NS), ("monotonic", MONOTONIC_NS)):
        setattr(time, name, _clock(name, base, 1e-9))
    for name, base in (("time_ns", EPOCH_NS), ("monotonic_ns", MONOTONIC_NS)):
        setattr(time, name, _clock(name, base, None))
    time.perf_counter = _clock("perf_counter", MONOTONIC_NS, 1e-9)
    time.perf_counter_ns = _clock("perf_counter_ns", MONOTONIC_NS, None)
    for name in ("process_time", "thread_time"):
        if name in _REAL:
            setattr(time, name, _clock(name, 0, 1e-9))
            setattr(time, name + "_ns", _clock(name + "_ns", 0, None))
    time.sleep = _sleep
    if "clock_gettime" in _REAL:
        time.clock_gettime, time.clock_gettime_ns = _clock_gettime, _clock_gettime_ns
    for name in ("localtime", "gmtime", "ctime"):
        setattr(time, name, _with_now(name))
    time.asctime, time.strftime = _asctime, _strftime
    _datetime.date, _datetime.datetime = date, datetime
    os.urandom = urandom
    os.times = _times
    _fix_uuid()
    if hasattr(os, "getrandom"):
        os.getrandom = _getrandom
    random._urandom = urandom  # SystemRandom, hence secrets and numpy's SeedSequence()
    random.Random.seed = _seed  # random.seed() and random.Random() with no seed
    random.seed = random._inst.seed
    random.seed()  # the module's own generator was seeded from the kernel at import
    patch_torch()


def patch_torch() -> None:
    """torch.seed() from the stream: called again once a notebook has imported torch."""
    torch = sys.modules.get("torch")
    if torch is None or getattr(torch.seed, "_effdl_seeded", False):
        return

    def seed() -> int:
        value = int.from_bytes(urandom(8), "little") % 2**63
        torch.manual_seed(value)
        return value

    seed._effdl_seeded = True  # type: ignore[attr-defined]
    torch.seed = seed
    if hasattr(torch, "random"):
        torch.random.seed = seed


def seed_of(job_bytes: bytes) -> int:
    """The entropy seed of a job: a hash of job.json (the submission's statements and the
    calls drawn for it), so the same bytes see the same stream."""
    import hashlib

    return int.from_bytes(hashlib.sha256(b"effdl-entropy\0" + job_bytes).digest()[:16], "little")
