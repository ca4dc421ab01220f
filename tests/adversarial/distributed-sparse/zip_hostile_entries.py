"""A zip holding the honest solution plus symbolic links, `..` and absolute paths aimed at
the grader's machine, a zip bomb, and a file named like its folder (a symlink or a path
with `..` inside a zip)."""
# effdl-attack: build=zip entries=symlink,dotdot,absolute,bomb,samename feedback_contains="symbolic links are not accepted" feedback_contains="paths leaving the folder" feedback_contains="too large once unpacked" quick=1

NOTE = "an honest submission, packed with hostile entries"
