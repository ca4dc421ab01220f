"""A notebook saved with a UTF-8 byte order mark, as some Windows editors do: still honest."""
# effdl-attack: build=bytes mutate=bom

NOTE = "nothing else is wrong"
