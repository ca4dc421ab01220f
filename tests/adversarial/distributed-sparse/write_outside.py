"""Writes outside its work folder: host paths, the grader's folders, relative escapes, the
supervisor's output, and files larger than the sandbox's disk (writing outside the work
directory)."""
# effdl-attack: build=cell tag=answer expect_lost=a2.closed_form feedback_contains="entries differ" quick=1

import os

TARGETS = [
    "@SENTINEL@/written.txt",
    "@VICTIM@",
    "../../../../../@SENTINEL@/relative.txt",
    "/grader/harness/calls.py",
    "/grader/fixtures/__init__.py",
    "/grader/job.json",
    "/staged/distributed-sparse.ipynb",
    "/usr/lib/python3/evil.py",
    "/etc/cron.d/evil",
    "/out/../escaped.txt",
    os.path.expanduser("~/.bashrc"),
]


def attack():
    for target in TARGETS:
        try:
            with open(target, "a") as fh:
                fh.write("written by a submission\n")
        except OSError:
            pass
    for path in ("big.bin", "/tmp/big.bin"):
        try:
            with open(path, "wb") as fh:
                for _ in range(700):
                    fh.write(b"\0" * 1024**2)
        except OSError:
            pass
    try:
        with open("/proc/1/fd/1", "wb") as fh:
            for _ in range(80):
                fh.write(b"\0" * 1024**2)
    except OSError:
        pass


attack()


def closed_form(X, y):
    attack()
    return [0.0, 0.0, 0.0]
