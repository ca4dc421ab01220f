"""An infinite loop at top level and in a graded function (an infinite loop)."""
# effdl-attack: build=cell tag=answer expect_lost=a2.closed_form feedback_contains="time budget" max_seconds=60 cost=40 quick=1

while True:
    pass


def closed_form(X, y):
    while True:
        pass
