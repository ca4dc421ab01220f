"""A zip holding an honest submission plus a folder `notes/` and, after it, a file `notes`
(the reverse order of the same clash): staging crashed with IsADirectoryError."""
# effdl-attack: build=zip entries=dirandfile feedback_contains="the zip also holds a folder of the same name" threat=staging

NOTE = "an honest submission; the clash is in the zip's other entries"
