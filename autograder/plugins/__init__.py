"""The assignments, one plug-in package each (see autograder/plugin.py for what one holds)."""
