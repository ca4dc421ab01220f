"""In a class batch: a submission folder holding a tree 1,500 folders deep. Planning the batch
walked into it for a file time and raised RecursionError, and nobody was graded, unless the
batch never walks a submission's tree (its time is the entry's own) and the one submission is
recorded as not graded, with why (a submission too deep to walk)."""
# effdl-attack: threat=class build=batch deep=1500 mallory="not graded"

NOTE = "an honest solution, in a folder with a very deep tree beside the notebook"
