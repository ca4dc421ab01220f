"""The check framework: what hidden checks are written with.

spec.py        Call (what the harness calls, on which inputs) and @check
sub.py         the submission as data: Sub, Case
verdict.py     CheckFailure and Partial
credit.py      partial credit over a check's parts
compare.py     comparisons that say what was expected, what came, by how much and where
trajectory.py  optimization runs checked step by step; tie-tolerant selections
stats.py       statistical tests with a stated false-fail probability
truefalse.py   scoring a true/false answer dict
explain.py     why a call gave no value
refcache.py    a disk cache for expensive reference computations
"""
