"""The harness: the only grader code that runs inside the sandbox, next to student code.

It imports nothing from effdl, the checks or the rest of the platform: the standard library,
numpy, and torch when the assignment needs it (a test reads its imports). The grader copies
this package, and the assignment's fixtures (autograder/plugins/<name>/sandbox/), into the
job folder and starts `supervisor.main` as an unprivileged user:

    JOB_DIR/job.json   (read-only) the statements to run and the calls to make
    WORK_DIR           the submission's files (copied there from SOURCE_DIR when given)
    stdout             the channel, the only thing the grader reads (protocol.py): frames
                       the supervisor writes itself, of its own events (statements run,
                       skipped, failed; calls started and ended, with their seconds), each
                       call's record (its value, encoded by codec.encode: no pickles, no
                       objects) and the first bytes the student's code printed

Three kinds of process, so that one misbehaving piece of student code costs only its own
points: the supervisor (supervisor.py, PID 1, runs no student code), the loader (loader.py:
the notebook's statements, then the runner of the calls), and one call process per graded
function (runner.py, calls.py). No process that runs student code can write what the grader
reads: a call process hands its record to the supervisor through a pipe, and the supervisor
passes it on only for the call it is timing, once, in time (watch.py says what that leaves
to student code). Student code sees a clock and entropy that are the same at every
grading (determinism.py); the harness keeps the real clock.

Modules: supervisor (the job, restarts), watch (one loader: budgets, what is accepted of
it), channel (the frames to the grader and from the call processes), loader (statements),
runner (call processes), calls (one call), codec (values both ways; the grader uses it too),
protocol (events, frames and pipe messages), determinism (the clock and entropy student code
sees), world (what student code may change and how it is put back), processes (finding,
killing, reaping), torch_cpu (CUDA code on the CPU).
"""
