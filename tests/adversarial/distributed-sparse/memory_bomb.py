"""Allocates far more memory than the sandbox allows, at top level and in a graded function
(a memory bomb)."""
# effdl-attack: build=cell tag=answer expect_lost=a2.closed_form feedback_contains="MemoryError" quick=1

hog = bytearray(6 * 1024**3)


def closed_form(X, y):
    blocks = []
    while True:
        blocks.append(bytearray(256 * 1024**2))
