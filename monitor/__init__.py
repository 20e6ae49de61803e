"""Frontier Monitor: watch news feeds for the Pakistan–Afghanistan frontier beat.

The package is a one-way pipeline (see docs/decisions.md and the module docstrings):
settings → sources → fetch → parse → normalize → match → cluster → store → digest → deliver.
"""

__version__ = "0.1.0"
