"""Layer-0 inputs h^0 of every entity: subword name vectors, scaled numbers, periodic dates.

The paper embeds strings with fastText. Pre-trained vectors cannot be downloaded here, so names
are turned into hashed word and character n-gram counts (the heart of fastText): a model then
learns one vector per hash bucket end to end (``torch.nn.EmbeddingBag`` reads the sparse rows
directly). Hashing needs no vocabulary, so a name never seen in training still shares buckets with
its variants ("Aditya Raj" and "Aditya Raj Kapoor" share most of theirs).

Numbers are centred on the median and divided by a robust spread, then clipped, so one outlier
year does not squash the rest. Dates keep a scaled year plus sin/cos of their periodic segments
(month of the year, day of the month), so 31 December sits next to 1 January. Every attribute
also gets a "missing" flag: absence is information, and a zero must not pretend to be a value.

Scaling is fitted once on both sides together and stored in :class:`FeatureSpec`, which a model
checkpoint carries, so features are computed the same way at training and scoring time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize

from core.data.dataset import AlignmentDataset
from core.data.kg import KnowledgeGraph
from core.features import FEATURE_STORES

#: Clip scaled numbers to this many robust standard deviations.
CLIP = 5.0
DATE_WIDTH = 6  # scaled year, sin/cos month, sin/cos day, missing flag
NUMBER_WIDTH = 2  # scaled value, missing flag


@dataclass(frozen=True)
class NameHashing:
    """How names become hashed n-gram counts (fastText-style subwords)."""

    n_buckets: int = 2**18
    min_n: int = 3
    max_n: int = 5
    words: bool = True  # also hash whole words, as fastText does

    def __post_init__(self) -> None:
        if self.n_buckets < 16:
            raise ValueError(f"n_buckets must be >= 16, got {self.n_buckets}")
        if not 1 <= self.min_n <= self.max_n:
            raise ValueError(f"need 1 <= min_n <= max_n, got {self.min_n}, {self.max_n}")


@dataclass(frozen=True)
class AttributeEncoding:
    """One aligned attribute, its columns on each side, and the fitted scaling."""

    name: str
    kind: str  # "number" or "date"
    left: str
    right: str
    center: float
    scale: float

    @property
    def width(self) -> int:
        return NUMBER_WIDTH if self.kind == "number" else DATE_WIDTH


@dataclass(frozen=True)
class FeatureSpec:
    """Everything needed to recompute the features: stored with each model checkpoint."""

    hashing: NameHashing
    attributes: tuple[AttributeEncoding, ...]

    @property
    def dense_width(self) -> int:
        return sum(a.width for a in self.attributes)

    def to_dict(self) -> dict:
        return {"hashing": asdict(self.hashing), "attributes": [asdict(a) for a in self.attributes]}

    @classmethod
    def from_dict(cls, data: dict) -> "FeatureSpec":
        return cls(NameHashing(**data["hashing"]), tuple(AttributeEncoding(**a) for a in data["attributes"]))


@dataclass(frozen=True, eq=False)
class EntityFeatures:
    """h^0 for one graph: ``name_ngrams`` (n, n_buckets) L2-normalised counts; ``dense`` (n, D)."""

    name_ngrams: sp.csr_matrix
    dense: np.ndarray


# ------------------------------------------------------------------------------ names ---------
def hash_names(names, hashing: NameHashing) -> sp.csr_matrix:
    """(n, n_buckets) L2-normalised counts of hashed character n-grams (and words) of each name.

    Examples
    --------
    >>> h = NameHashing(n_buckets=2**12)
    >>> x = hash_names(["Aditya Raj", "Aditya Raj Kapoor", "Zed Quill"], h)
    >>> bool((x[0] @ x[1].T).toarray()[0, 0] > (x[0] @ x[2].T).toarray()[0, 0])
    True
    """
    names = [str(n) for n in names]
    common = dict(n_features=hashing.n_buckets, alternate_sign=False, norm=None, lowercase=True,
                  strip_accents="unicode", dtype=np.float32)
    counts = HashingVectorizer(analyzer="char_wb", ngram_range=(hashing.min_n, hashing.max_n), **common).transform(names)
    if hashing.words:
        counts = counts + HashingVectorizer(analyzer="word", token_pattern=r"(?u)\b\w+\b", **common).transform(names)
    return normalize(counts.tocsr(), norm="l2")


# ------------------------------------------------------------------------------ numbers -------
def fit_number_scaling(values: np.ndarray) -> tuple[float, float]:
    """(median, robust spread) of the present values; spread falls back to std, then to 1."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return 0.0, 1.0
    q25, q50, q75 = np.percentile(x, [25, 50, 75])
    spread = (q75 - q25) / 1.349  # IQR of a normal distribution is 1.349 sigma
    if not spread > 0:
        spread = float(x.std())
    return float(q50), float(spread) if spread > 0 else 1.0


def encode_numbers(values: np.ndarray, center: float, scale: float) -> np.ndarray:
    """(n, 2): clipped (x - center) / scale, and a missing flag (value 0 where missing)."""
    x = np.asarray(values, dtype=np.float64)
    missing = ~np.isfinite(x)
    scaled = np.clip((np.where(missing, center, x) - center) / scale, -CLIP, CLIP)
    return np.stack([scaled, missing.astype(np.float64)], axis=1).astype(np.float32)


# ------------------------------------------------------------------------------ dates ---------
def encode_dates(values: pd.Series, year_center: float, year_scale: float) -> np.ndarray:
    """(n, 6): scaled year, sin/cos of month-of-year and day-of-month, missing flag.

    Examples
    --------
    >>> x = encode_dates(pd.Series(pd.to_datetime(["1999-12-31", "2000-01-01", None])), 2000.0, 10.0)
    >>> x.shape, float(x[2, 5])
    ((3, 6), 1.0)
    """
    dates = pd.to_datetime(pd.Series(values).reset_index(drop=True))
    missing = dates.isna().to_numpy()
    year = dates.dt.year.to_numpy(dtype=np.float64, na_value=np.nan)
    # position within the year and the month as a fraction of a turn
    month_turn = (dates.dt.day_of_year.to_numpy(dtype=np.float64, na_value=0.0) - 1) / 365.25
    day_turn = (dates.dt.day.to_numpy(dtype=np.float64, na_value=1.0) - 1) / 31.0
    out = np.zeros((len(dates), DATE_WIDTH), dtype=np.float32)
    out[:, 0] = encode_numbers(year, year_center, year_scale)[:, 0]
    out[:, 1], out[:, 2] = np.sin(2 * np.pi * month_turn), np.cos(2 * np.pi * month_turn)
    out[:, 3], out[:, 4] = np.sin(2 * np.pi * day_turn), np.cos(2 * np.pi * day_turn)
    out[missing, 1:5] = 0.0
    out[:, 5] = missing
    return out


# ------------------------------------------------------------------------------ pipeline ------
def fit_feature_spec(dataset: AlignmentDataset, hashing: NameHashing | None = None) -> FeatureSpec:
    """Pick the aligned number and date attributes and fit their scaling on both sides at once."""
    encodings = []
    for c in dataset.schema.attributes:
        kind = dataset.left.attribute_kind(c.left)
        if kind != dataset.right.attribute_kind(c.right) or kind == "text":
            continue  # text attributes are not layer-0 inputs; mismatched kinds cannot be compared
        left, right = dataset.left.attributes[c.left], dataset.right.attributes[c.right]
        if kind == "number":
            center, scale = fit_number_scaling(np.concatenate([left.to_numpy(np.float64), right.to_numpy(np.float64)]))
        else:
            years = pd.concat([left, right], ignore_index=True).dt.year.to_numpy(dtype=np.float64, na_value=np.nan)
            center, scale = fit_number_scaling(years)
        encodings.append(AttributeEncoding(c.name, kind, c.left, c.right, center, scale))
    return FeatureSpec(hashing or NameHashing(), tuple(encodings))


def encode_entities(kg: KnowledgeGraph, spec: FeatureSpec, side: str) -> EntityFeatures:
    """h^0 of every entity of ``kg`` ('left' or 'right' picks the attribute column names)."""
    store = FEATURE_STORES.get(kg)
    if store is not None:
        return store(spec, side, lambda: compute_entity_features(kg, spec, side))
    return compute_entity_features(kg, spec, side)


def compute_entity_features(kg: KnowledgeGraph, spec: FeatureSpec, side: str) -> EntityFeatures:
    """:func:`encode_entities` computed from the graph, never read from a store."""
    blocks = []
    for a in spec.attributes:
        column = getattr(a, side)
        if column not in kg.attributes.columns:
            raise KeyError(f"feature attribute {a.name!r} expects column {column!r} on the {side} side; "
                           f"the graph has {list(kg.attributes.columns)}")
        values = kg.attributes[column]
        blocks.append(encode_numbers(values.to_numpy(np.float64), a.center, a.scale) if a.kind == "number"
                      else encode_dates(values, a.center, a.scale))
    dense = np.concatenate(blocks, axis=1) if blocks else np.zeros((kg.n_entities, 0), dtype=np.float32)
    return EntityFeatures(hash_names(kg.names, spec.hashing), dense.astype(np.float32))
