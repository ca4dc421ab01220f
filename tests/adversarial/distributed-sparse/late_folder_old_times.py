"""Handed in after the due date as a folder unpacked from a zip whose entries carry dates three
days old (the unpacking restored them, on the files and on the folder): it counted as on
time, unless the time comes from the submission system or the entry's arrival, never from
times the student set (old dates inside a submission)."""
# effdl-attack: threat=times build=batch entry=folder old_times=1 due=1 quick=1

NOTE = "an honest solution, handed in late with old file dates"
