"""Fourteen top-level statements that each hang, in untagged cells of an honest notebook."""

# effdl-attack: build=cells count=14 tag=none feedback_contains="from then on each statement had 1 s" max_seconds=90 cost=40
stall_NNNN = __import__("time").sleep(3600)
