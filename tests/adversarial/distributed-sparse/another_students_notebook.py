"""Another student's solution notebook (their own variant's numbers) with its metadata.effdl
removed, handed in as this student's: the variant check trusted the metadata and flagged
nothing. The numbers in its cells are not this student's: VARIANT MISMATCH."""
# effdl-attack: build=othervariant student=bob secret="another course" metadata=drop feedback_contains="VARIANT MISMATCH" feedback_contains="not all in this notebook's cells" quick=1 threat=variant

NOTE = "the functions are correct; only the numbers are someone else's"
