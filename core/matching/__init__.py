"""The match decision: from the evidence on a candidate pair to "same entity or not", and why.

Blocking (:mod:`core.blocking`) proposes candidate pairs and CG-MuAlign (:mod:`core.model`)
scores them; this package owns what turns all the evidence on a pair into a decision an analyst
can trust and question:

* :mod:`~core.matching.feature_block`: a named float matrix whose columns carry a group
  (name, one per attribute, structure, gnn), the unit every other module passes around.
* :mod:`~core.matching.comparisons`: Magellan-style comparison features for the name and every
  aligned attribute (string, number and date comparisons, missing-value flags), vectorised over
  all candidate pairs, with defaults chosen from the value kind and user overrides.
* :mod:`~core.matching.propagation`: structural evidence that does not read names: each entity's
  profile over the known anchor links, the cosine of two profiles, neighbour-name overlap per
  relation, and top-k candidates from structure alone.
* :mod:`~core.matching.combiner`: the learned combiner (gradient boosting with one feature group
  per tree, or logistic regression) fitted on TRAIN, tuned, thresholded and calibrated on VALID.
  Its log-odds split exactly into per-group contributions, the waterfall that explains a decision.
* :mod:`~core.matching.assignment`: collective one-to-one decisions over each type's candidate
  graph, and detecting from training links whether a type is one-to-one.
* :mod:`~core.matching.pair_features`: all of the above gathered for the candidate pairs of an
  :class:`~core.data.dataset.AlignmentDataset` (specs from the schema and column dtypes, the
  structure from aligned relations, the GNN distance when given).
* :mod:`~core.matching.matcher`: the end-to-end matcher (``fit_matcher``, ``Matcher.score``,
  ``load_matcher``): which pairs teach what, iterations that add confident matches as anchors,
  the one-to-one step, and saving with a format tag and version.

Everything here is a pure function of arrays (or a frozen record built from them): no I/O except
the combiner's explicit save/load, no printing, no dependence on the app or the label store.
"""

import weakref

#: Left graph -> a disk store of the label propagation's result, called as
#: ``store(key, compute) -> LabelAlignment`` (``key`` names the anchors and the settings). The
#: project layer registers one for the graphs of a project it opened
#: (core.project.cache.AlignmentStore), so ``mualign block``, ``train`` and ``evaluate``, each its
#: own process, propagate once between them: 4 CPU-s each on DBLP-ACM, about 2 minutes each on a
#: 300K-entity side. Here, so registering a graph imports nothing heavy; this package still does
#: no I/O itself.
ALIGNMENT_STORES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
