"""Name-only baselines: the bar every structural model must clear.

``name-tfidf`` scores a pair by the cosine of the two names' character n-gram TF-IDF vectors (the
same similarity blocking ranks by); it needs no training. ``name-logreg`` learns a logistic
regression over several string similarities of the two names (TF-IDF cosine, edit-distance
ratio, token-set ratio, partial ratio, Jaro-Winkler) from the training links: the "Feature+NN"
ablation of the paper, with names only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler
from sklearn.linear_model import LogisticRegression

from core.blocking.config import BlockingConfig
from core.blocking.name_blocking import fit_name_vectors, pair_cosines
from core.data.candidates import CandidatePairs, pair_keys
from core.data.dataset import AlignmentDataset
from core.data.links import Split
from core.data.sets import isin


@dataclass(eq=False)
class NameTfidfScorer:
    """Cosine of character n-gram TF-IDF name vectors, fitted per aligned type."""

    dataset: AlignmentDataset
    config: BlockingConfig = field(default_factory=BlockingConfig)
    name: str = "name-tfidf"

    def __post_init__(self) -> None:
        self._vectors = []
        self._row_left = np.full(self.dataset.left.n_entities, -1, dtype=np.int64)
        self._row_right = np.full(self.dataset.right.n_entities, -1, dtype=np.int64)
        for t in range(len(self.dataset.schema.types)):
            left, right = self.dataset.entities_of_aligned_type(t)
            self._row_left[left] = np.arange(len(left))
            self._row_right[right] = np.arange(len(right))
            self._vectors.append(fit_name_vectors(self.dataset.left.names[left], self.dataset.right.names[right],
                                                  self.config))

    def score_pairs(self, left: np.ndarray, right: np.ndarray, types: np.ndarray) -> np.ndarray:
        """Cosine similarity in [0, 1] for each (left[i], right[i]) of aligned type types[i]."""
        out = np.zeros(len(left), dtype=np.float64)
        for t in np.unique(types):
            sel = np.flatnonzero(types == t)
            lv, rv = self._vectors[t]
            lr, rr = self._row_left[left[sel]], self._row_right[right[sel]]
            if (lr < 0).any() or (rr < 0).any():
                raise ValueError(f"pairs of type {self.dataset.schema.types[t].name!r} include entities of another type")
            out[sel] = pair_cosines(lv, rv, lr, rr)
        return out

    def score_matrix(self, left: np.ndarray, type_index: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores (len(left), n_right_of_type), right entity indices): every right entity of the type."""
        _, right = self.dataset.entities_of_aligned_type(type_index)
        lv, rv = self._vectors[type_index]
        return (lv[self._row_left[left]] @ rv.T).toarray(), right


def name_similarity_features(left_names, right_names, tfidf_cosine: np.ndarray) -> np.ndarray:
    """(n, 6) string similarities of aligned name pairs, each in [0, 1]."""
    left_names = [str(s).lower() for s in left_names]
    right_names = [str(s).lower() for s in right_names]
    sims = [np.asarray(tfidf_cosine, dtype=np.float64)]
    for scorer in (fuzz.ratio, fuzz.token_set_ratio, fuzz.partial_ratio):
        sims.append(process.cpdist(left_names, right_names, scorer=scorer, workers=-1) / 100.0)
    sims.append(process.cpdist(left_names, right_names, scorer=JaroWinkler.normalized_similarity, workers=-1))
    lengths = np.array([[len(a), len(b)] for a, b in zip(left_names, right_names)], dtype=np.float64).reshape(-1, 2)
    sims.append(lengths.min(axis=1) / np.maximum(lengths.max(axis=1), 1.0))
    return np.stack(sims, axis=1)


@dataclass(eq=False)
class NameLogRegScorer:
    """Logistic regression over name similarities, trained on the TRAIN links.

    Negatives are the labelled non-matches of the training split when the data has them
    (DeepMatcher-style benchmarks); otherwise the blocked candidates of training entities that are
    not their true match, which are exactly the confusions the model will face.
    """

    dataset: AlignmentDataset
    candidates: CandidatePairs
    config: BlockingConfig = field(default_factory=BlockingConfig)
    seed: int = 0
    name: str = "name-logreg"

    def __post_init__(self) -> None:
        self._tfidf = NameTfidfScorer(self.dataset, self.config)
        left, right, types, labels = training_pairs(self.dataset, self.candidates)
        if len(np.unique(labels)) < 2:
            raise ValueError("name-logreg needs training matches and non-matches; the TRAIN split has "
                             f"{int(labels.sum())} matches and {int((labels == 0).sum())} non-matches")
        self._model = LogisticRegression(max_iter=1000, random_state=self.seed)
        self._model.fit(self._features(left, right, types), labels)

    def _features(self, left, right, types) -> np.ndarray:
        cos = self._tfidf.score_pairs(left, right, types)
        return name_similarity_features(self.dataset.left.names[left], self.dataset.right.names[right], cos)

    def score_pairs(self, left: np.ndarray, right: np.ndarray, types: np.ndarray) -> np.ndarray:
        """Probability of a match for each pair."""
        if len(left) == 0:
            return np.zeros(0)
        return self._model.predict_proba(self._features(left, right, types))[:, 1]


def training_pairs(dataset: AlignmentDataset, candidates: CandidatePairs):
    """(left, right, type, label) for supervised training from the TRAIN split.

    Per aligned type: labelled TRAIN pairs are used as they are; for a type without labelled
    negatives, the candidates of its TRAIN left entities that are not known matches become negatives.
    """
    train = dataset.links.in_split(Split.TRAIN)
    labelled_types = np.unique(train.type[train.label == 0])
    labelled = train.select(np.isin(train.type, labelled_types))
    positives = train.positives().select(~np.isin(train.positives().type, labelled_types))
    gold = dataset.gold_pairs()
    n_right = dataset.right.n_entities
    from_train_left = isin(candidates.left, positives.left) & ~isin(candidates.type, labelled_types)
    is_gold = isin(candidates.pair_keys(n_right), pair_keys(gold.left, gold.right, n_right))
    negatives = candidates.select(from_train_left & ~is_gold)
    left = np.concatenate([labelled.left, positives.left, negatives.left])
    right = np.concatenate([labelled.right, positives.right, negatives.right])
    types = np.concatenate([labelled.type, positives.type, negatives.type])
    labels = np.concatenate([labelled.label.astype(np.int64), np.ones(len(positives), np.int64),
                             np.zeros(len(negatives), np.int64)])
    return left, right, types, labels
