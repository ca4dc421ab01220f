"""Another student's solution notebook whose metadata was edited to claim this student's
variant: the numbers in its cells still belong to the other student (VARIANT MISMATCH)."""
# effdl-attack: build=othervariant student=carol secret="another course" metadata=forge feedback_contains="VARIANT MISMATCH" threat=variant

NOTE = "the metadata lies; the cells do not"
