"""Graded in an `effdl grade` batch between two honest students: overwrites the first one's
results.json, raises errors whose text is not valid Unicode or HTML, prints control bytes."""
# effdl-attack: build=cli expect_lost=a2.closed_form feedback_contains="raised"

import sys

try:
    with open("@CLI_VICTIM@", "w") as fh:
        fh.write('{"score": 0, "tests": []}')
except OSError:
    pass
sys.stdout.write("\x1b[2J\x1b[31mnot a terminal\x00\x07 \ud800 </pre><script>alert(1)</script>\n")


def closed_form(X, y):
    raise ValueError("lone surrogates \ud800\udfff and markup </pre><script>alert(1)</script>")
