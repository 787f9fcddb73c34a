"""Layer-0 inputs of the model: hashed name n-grams, scaled numbers, periodic dates, the relation vocabulary. May import core.data."""

import weakref

#: Graph -> a function ``(spec, side, compute) -> EntityFeatures`` that keeps a graph's encoded
#: features elsewhere: a project's binary cache (core.project.cache) registers the graphs it
#: opens, so a model set up on them (core.features.entity_features.encode_entities) reads their
#: features from disk instead of hashing every name again. Here, not in entity_features, so
#: registering a graph does not import scikit-learn.
FEATURE_STORES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
