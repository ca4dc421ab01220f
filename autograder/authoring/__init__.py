"""Authoring: an assignment plug-in's templates rendered into student and solution bundles.

render.py    templates -> the files of a bundle (notebook, support modules, key, rubric)
notebook.py  the `# %% <role>` cell format -> an nbformat notebook with role tags
source.py    effdl's source as solutions, and as student skeletons
requirements.py  a bundle's requirements.txt, read off the imports of its rendered code
bundles.py   `effdl build`: the canonical bundles, or one bundle per student
samples.py   flawed submissions made from a solution by swapping in a wrong definition
"""
