"""Handed in after the due date as a zip whose entries carry dates three days old, the zip
file itself keeping the student's old date as it was copied into the class folder: it counted
as on time, unless the time is the entry's arrival or the submission system's (an old-dated
zip)."""
# effdl-attack: threat=times build=batch entry=zip old_times=1 due=1

NOTE = "an honest solution, zipped with old dates and handed in late"
