"""A course: its settings (course.toml), its students, and when their submissions came in.

settings.py  course.toml: name, variant secret, due dates, late policy, point overrides
students.py  student ids and the roster
late.py      submission times (from the submission system only) and the late policy
dates.py     ISO 8601 times
"""
