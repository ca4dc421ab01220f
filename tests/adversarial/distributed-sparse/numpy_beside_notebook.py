"""A file named numpy.py next to the notebook, which would shadow numpy, plus symbolic links
in the folder (a file named numpy.py beside the notebook)."""
# effdl-attack: build=file name=numpy.py link=1 feedback_contains="numpy.py" feedback_contains="symbolic links are not accepted" quick=1

import os

open("@SENTINEL@/numpy_was_imported", "w").write("shadowed")
os._exit(0)
