"""A zip holding an honest submission plus an entry whose name is longer than the file
system allows: unpacking it raised OSError (File name too long) and nothing was graded."""
# effdl-attack: build=zip entries=longname feedback_contains="could not be unpacked" threat=staging

NOTE = "an honest submission; one entry of the zip cannot be written"
