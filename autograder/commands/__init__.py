"""The commands behind `effdl ...` (cli.py parses the command line and calls these):

grade.py       effdl grade PATH...: grade submissions one by one
batch.py       effdl grade --class: a whole class, in parallel, into a gradebook
manual.py      effdl manual export|import: hand grading by question
exports.py     effdl export csv: scores for an LMS
gradescope.py  effdl export gradescope: the autograder zip and its runtime
selftest.py    effdl selftest: attacks, mutants, correct variants, repeats
demo.py        effdl demo: build and grade the bundled samples
"""
