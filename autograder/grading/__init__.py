"""Grading one submission, top to bottom:

intake.py      the upload as data: staged files, the notebook's code cells, notes
statements.py  the cells cut into the statements the harness runs
job.py         job.json and the harness, for the sandbox
outputs.py     what the harness wrote, read back as untrusted data
suite.py       an assignment's hidden checks, loaded once and run on that data
result.py      the result model: GradeResult and its one serializer
score.py       the score model every page, file and export shows
questions.py   the hand-graded questions and their maxima
grade.py       grade_submission: the one function every command grades with
"""
