"""The sandbox: run the harness on one submission's job, isolated, and nothing else.

bwrap.py    whether and how bubblewrap runs here: mounts, namespaces, environment
uids.py     the unprivileged uids the runs use, their locks, and killing what they left
cgroups.py  memory, process and CPU caps of one run, where a control group can be made
install.py  the harness package (and an assignment's fixtures) copied into the job
run.py      one run: limits, the watch on what it writes, what the trusted side learns
harness/    the code that runs inside, next to student code
"""

from autograder.sandbox.bwrap import backend
from autograder.sandbox.run import Limits, SandboxRun, run_harness
from autograder.sandbox.uids import stray_processes, worker_uid

__all__ = ["Limits", "SandboxRun", "backend", "run_harness", "stray_processes", "worker_uid"]
