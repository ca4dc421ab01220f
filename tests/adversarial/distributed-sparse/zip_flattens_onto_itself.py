"""A zip of one folder whose contents include a folder with the very name the staging moved
the zip's folder to while flattening it: the flattening crashed ("Directory not empty") and
the honest notebook inside was never graded."""
# effdl-attack: build=zip entries=flattenclash threat=staging

NOTE = "an honest submission; its zip folder flattens onto a name of its own"
