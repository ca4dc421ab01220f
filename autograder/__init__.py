"""autograder: builds assignments from templates and grades submissions in a sandbox."""

from effdl import __version__

__all__ = ["__version__"]
