"""A notebook whose cells have Windows line endings (\r\n): still honest."""
# effdl-attack: build=bytes mutate=crlf

NOTE = "nothing else is wrong"
