"""Handed in after the due date as a notebook whose modification time was set three days back
(the copy into the class folder kept it): it counted as on time, unless the time is the
entry's arrival or the submission system's (an old-dated notebook)."""
# effdl-attack: threat=times build=batch entry=notebook old_times=1 due=1

NOTE = "an honest solution, handed in late with an old file date"
