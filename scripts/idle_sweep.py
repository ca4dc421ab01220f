"""Grade the solution with each graded function swapped for a body that does nothing, and
list every check of that function that still gives points.

A check that pays an idle function (one that refuses every input, returns None, hands its
first argument back, or returns zeros or ones) is paying for a case whose right answer
needs no work: mark such cases with credit_parts(vacuous=...) or draw other inputs (a
check that grades two functions, as c4.counted_hooks does, keeps the other's share). Run it
after writing or changing checks; it grades one submission per function and body, so a
compress-distributed sweep takes about 15 minutes on 2 cores.

    .venv/bin/python scripts/idle_sweep.py distributed-sparse [--bodies raise,none,first]
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

from autograder import plugin
from autograder.authoring import samples
from autograder.commands import selftest
from autograder.grading import suite

BODIES = {
    "raise": "    raise ValueError('not this input')\n",
    "none": "    return None\n",
    "first": "    return args[0] if args else None\n",
    "zeros": "    import numpy as np\n    return np.zeros_like(np.asarray(args[0], dtype=float))\n",
    "ones": "    import numpy as np\n    return np.ones_like(np.asarray(args[0], dtype=float))\n",
}
SKIPPED = ("TF_ANSWERS", "STE")  # answers, and a class: tests/adversarial covers the STE


def sweep(assignment: str, bodies: list[str]) -> list[str]:
    """One line per (function, body): 'ok', the checks that kept points, or why it was not
    graded."""
    manifest = plugin.get(assignment)
    solution = manifest.solution_dir
    functions = sorted(
        {s.function for s in suite.load(assignment).specs if s.function not in SKIPPED}
    )
    root = Path(tempfile.mkdtemp(prefix="idle-sweep-"))
    lines = []
    for fn in functions:
        where = next(
            (
                f" in={m}"
                for m in manifest.submitted_modules
                if re.search(rf"^def {fn}\(", (solution / m).read_text(), re.M)
            ),
            "",
        )
        for body in bodies:
            source = root / f"{fn}_{body}.py"
            source.write_text(
                f'"""{fn} doing nothing ({body})."""\n'
                f"# effdl-sample: replaces={fn}{where} expect_lost=all\n\n\n"
                f"def {fn}(*args, **kwargs):\n{BODIES[body]}"
            )
            sample = samples.load(source, assignment)
            path = samples.materialize(sample, solution, root / f"{fn}_{body}")
            result = selftest._grade(path, assignment, 0, f"{fn}-{body}")
            kept = [(c.id, round(c.fraction, 3)) for c in result.checks if c.function == fn]
            kept = [k for k in kept if k[1] > 0]
            verdict = f"NOT GRADED: {result.error}" if not result.graded else kept or "ok"
            lines.append(f"{fn:28s} {body:6s} {verdict}")
            print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignment", choices=plugin.names())
    parser.add_argument("--bodies", default=",".join(BODIES), help="comma-separated")
    args = parser.parse_args()
    sweep(args.assignment, [b for b in args.bodies.split(",") if b])


if __name__ == "__main__":
    main()
