"""In a class batch where nina was graded from nina.ipynb: an entry named nina.ipynb.zip
appears beside it (both name student nina). The batch refused to run at all, unless the
entries concerned are left out and flagged while the rest of the class is graded, and nina's
grade stays hers (an entry named after another student's)."""
# effdl-attack: threat=class build=batch tag=answer entry=zip entry_name=nina.ipynb.zip conflict=1 mallory=absent summary_contains="left out nina.ipynb, nina.ipynb.zip"

TF_ANSWERS = {}


def closed_form(X, y):
    return [1.0, -3.0, 2.0]
