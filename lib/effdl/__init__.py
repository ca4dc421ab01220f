"""effdl: reference implementations for the Efficient Deep Learning course.

Plain functions on numpy arrays (assignment A) and torch modules (assignment B). Importing
this package is cheap: torch is only imported by the modules that need it (models, quant,
pruning, data, train).
"""

__version__ = "0.1.0"
