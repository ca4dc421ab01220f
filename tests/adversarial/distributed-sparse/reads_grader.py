"""Looks for the reference library, the hidden checks, the solutions, the answer key, the
grader's cache and other students' staged files, and answers from whatever it finds
(importing effdl or reading check, solution or other students' files)."""
# effdl-attack: build=cell tag=answer expect_lost=a2.closed_form feedback_contains="entries differ" quick=1

import glob
import json
import os

FOUND = {}
try:
    import effdl.distributed

    FOUND["effdl"] = effdl.distributed
except ImportError:
    pass
try:
    import autograder.checks  # noqa: F401

    FOUND["autograder"] = True
except ImportError:
    pass
for pattern in [
    "@REPO@/solutions/*/answer_key.json",
    "@REPO@/autograder/plugins/*/checks/*.py",
    "@REPO@/lib/effdl/*.py",
    "@HOSTTMP@/effdl-grade-*/**/*.ipynb",
    "@HOSTTMP@/effdl-selftest-*/**/*.ipynb",
    os.path.expanduser("~/.cache/effdl/*.npy"),
    "/root/.cache/effdl/*.npy",
    "/proc/1/environ",
    "/proc/*/cwd/*",
    "/staged/*",
    "/work/**/*.py",
]:
    for path in glob.glob(pattern, recursive=True)[:50]:
        try:
            FOUND[path] = open(path, "rb").read(100_000)
        except OSError:
            pass


def closed_form(X, y):
    if "effdl" in FOUND:
        return FOUND["effdl"].closed_form(X, y)
    for path, data in FOUND.items():
        if path.endswith("answer_key.json"):
            return json.loads(data)["a2"]["closed_form"]
    return [0.0, 0.0, 0.0]
