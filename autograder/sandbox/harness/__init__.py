"""The harness: the only grader code that runs inside the sandbox, next to student code.

It imports nothing from effdl, the checks or the rest of the platform: the standard library,
numpy, and torch when the assignment needs it (a test reads its imports). The grader copies
this package, and the assignment's fixtures (autograder/plugins/<name>/sandbox/), into the
job folder and starts `supervisor.main` as an unprivileged user:

    JOB_DIR/job.json   (read-only) the statements to run and the calls to make
    WORK_DIR           the submission's files (copied there from SOURCE_DIR when given)
    OUT_DIR            what comes back, as plain data:
        events.jsonl   what happened (statements run, skipped, failed; calls started, ended)
        calls/N.json   each call's value, encoded by codec.encode (no pickles, no objects)
        stdout.txt     the first bytes the student's code printed

Three kinds of process, so that one misbehaving piece of student code costs only its own
points: the supervisor (supervisor.py, PID 1, runs no student code), the loader (loader.py:
the notebook's statements, then the runner of the calls), and one call process per graded
function (runner.py, calls.py). Everything in OUT_DIR is untrusted on the grader's side:
student code runs as the same user as the loader and could rewrite it. The grader reads it
as data and checks it; the harness only has to keep honest code's results intact when
other code misbehaves.

Modules: supervisor (budgets, restarts), loader (statements), runner (call processes),
calls (one call), codec (values both ways; the grader uses it too), protocol (events and
pipe messages), world (what student code may change and how it is put back), processes
(finding, killing, reaping), torch_cpu (CUDA code on the CPU).
"""
