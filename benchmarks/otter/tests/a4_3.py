"""Otter test for A4.3 (made by bench_grading.py)."""

OK_FORMAT = True

test = {
    "name": "a4_3",
    "points": 5,
    "suites": [
        {
            "cases": [
                {
                    "code": ">>> import numpy as np\n>>> csc_size_formula(4, 4, 3) == 537\nTrue",
                    "hidden": False,
                    "locked": False,
                },
                {
                    "code": ">>> import numpy as np\n>>> csc_size_formula(6, 5, 10) == 2956\nTrue",
                    "hidden": False,
                    "locked": False,
                },
                {
                    "code": ">>> import numpy as np\n"
                    ">>> csc_size_formula(8, 8, 100) == 209169\n"
                    "True",
                    "hidden": False,
                    "locked": False,
                },
                {
                    "code": ">>> import numpy as np\n>>> csc_size_formula(3, 7, 0) == 1419\nTrue",
                    "hidden": False,
                    "locked": False,
                },
                {
                    "code": ">>> import numpy as np\n>>> csc_max_K(4, 4) == 6\nTrue",
                    "hidden": False,
                    "locked": False,
                },
                {
                    "code": ">>> import numpy as np\n>>> csc_max_K(6, 5) == 30\nTrue",
                    "hidden": False,
                    "locked": False,
                },
                {
                    "code": ">>> import numpy as np\n>>> csc_max_K(8, 8) == 125\nTrue",
                    "hidden": False,
                    "locked": False,
                },
                {
                    "code": ">>> import numpy as np\n>>> csc_max_K(10, 6) == 509\nTrue",
                    "hidden": False,
                    "locked": False,
                },
            ],
            "scored": True,
            "setup": "",
            "teardown": "",
            "type": "doctest",
        }
    ],
}
