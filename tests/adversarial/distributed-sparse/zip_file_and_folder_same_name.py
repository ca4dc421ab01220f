"""A zip holding an honest submission plus a file `extra` and a folder `extra/` (a file and a
folder of the same name): staging crashed with FileExistsError and the notebook was never
graded. The folder is unpacked, the file refused with a note, the notebook graded."""
# effdl-attack: build=zip entries=fileanddir feedback_contains="the zip also holds a folder of the same name" quick=1 threat=staging

NOTE = "an honest submission; the clash is in the zip's other entries"
