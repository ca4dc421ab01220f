"""Otter test for A4.2 (made by bench_grading.py)."""

OK_FORMAT = True

test = {
    "name": "a4_2",
    "points": 5,
    "suites": [
        {
            "cases": [
                {
                    "code": ">>> import numpy as np\n"
                    ">>> got = csc_storage_bits(np.array([[0, 0, 0, 7, 0, 0, 0, "
                    "0], [1, 0, 0, 0, 0, 0, 0, 0], [0, 3, 0, 0, 10, 0, 0, 0], [0, "
                    "0, 0, 0, 0, 0, 0, 0], [0, 4, 0, 0, 0, 0, 0, 12], [2, 0, 6, "
                    "8, 0, 0, 0, 13], [0, 0, 0, 0, 0, 11, 0, 0], [0, 5, 0, 0, 9, "
                    "0, 0, 0]], dtype=float), 2, 8)\n"
                    ">>> got['total'] == 243\n"
                    "True",
                    "hidden": False,
                    "locked": False,
                }
            ],
            "scored": True,
            "setup": "",
            "teardown": "",
            "type": "doctest",
        }
    ],
}
