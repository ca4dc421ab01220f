"""Another student's solution notebook (their pruning percentages and seed) with its
metadata.effdl removed: flagged by the numbers in its cells (VARIANT MISMATCH)."""
# effdl-attack: build=othervariant student=dave secret="another course" metadata=drop feedback_contains="VARIANT MISMATCH" feedback_contains="seed_everything" threat=variant

NOTE = "the functions are correct; only the numbers are someone else's"
