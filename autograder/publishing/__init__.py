"""What students and staff read: every file and page made from a result and its score.

student.py       one student's results.json and feedback.html, together
results_json.py  Gradescope's results.json shape
feedback.py      the student's feedback page
report.py        the class report for the staff
svgplot.py       the feedback page's curves as inline SVG
pages.py         the one jinja environment of every page (templates/*.j2)
files.py         atomic writes, and never replacing a file without --force
"""
