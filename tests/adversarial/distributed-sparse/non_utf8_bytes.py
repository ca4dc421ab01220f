"""Bytes that are not UTF-8 inside a comment of an honest notebook (non-UTF-8 bytes)."""
# effdl-attack: build=bytes mutate=nonutf8 tag=answer feedback_contains="not valid UTF-8" quick=1

# the builder puts invalid bytes here: @BADBYTES@
NOTE = "the rest of the notebook is honest"
