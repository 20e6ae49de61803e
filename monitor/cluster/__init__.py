"""Story clustering: folding duplicates and cross-outlet copies of one event into a story.

The package is pure (no I/O): `text` normalises, `fingerprint` hashes, `decide` judges,
`index` looks up and places, `updates` spots later reports that add facts, `evaluate`
scores a clustering against labels. The database-backed index lives with the store.
"""

from monitor.cluster.decide import (
    Candidate,
    ClusterSettings,
    Decision,
    Neighbour,
    decide,
    similarity,
)
from monitor.cluster.fingerprint import Fingerprint, fingerprint, url_key
from monitor.cluster.index import (
    Clusterer,
    Found,
    MemoryStoryIndex,
    StoryIndex,
    counter,
    index_keys,
)
from monitor.cluster.updates import StoryFacts, facts_of, is_update, merge_facts

__all__ = [
    "Candidate",
    "ClusterSettings",
    "Clusterer",
    "Decision",
    "Fingerprint",
    "Found",
    "MemoryStoryIndex",
    "Neighbour",
    "StoryFacts",
    "StoryIndex",
    "counter",
    "decide",
    "facts_of",
    "fingerprint",
    "index_keys",
    "is_update",
    "merge_facts",
    "similarity",
    "url_key",
]
