"""Frontier Monitor: watch news feeds for the Pakistan–Afghanistan frontier beat.

The package is a one-way pipeline (see docs/decisions.md and the module docstrings):
settings → sources → fetch → parse → normalize → match → cluster → store → digest → deliver.
"""

__version__ = "0.1.0"


def collect_less_often() -> None:
    """Let Python's cycle collector look at young objects after every 20,000 allocations
    instead of 700. A pass allocates millions of short-lived objects (parsed entries, rows,
    keys) that form no cycles, and the default cost about 3% of a first pass; the older
    generations keep their default ratios, so a daemon's long-lived cycles are still found.
    """
    import gc

    gc.set_threshold(20_000, 10, 10)
