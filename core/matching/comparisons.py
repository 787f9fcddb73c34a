"""Comparison features: how alike two values of one attribute are, for every candidate pair at once.

These are the features a Magellan or Splink user expects before any learning: for strings,
exact-after-normalisation, Jaro-Winkler, Indel ratio, token-set ratio, word and character
3-gram TF-IDF cosine and length ratio; for numbers, absolute and relative difference; for dates,
the difference in days and in calendar years; for every kind, whether the value is missing on one
side or on both. Each comparison is computed over all N pairs with array operations (rapidfuzz's
``cpdist`` runs the string scorers in C; TF-IDF cosines are row-wise sparse products), never a
Python loop per pair.

Missing values do not pretend to be dissimilar: a pair missing the value on either side gets NaN
in every similarity column (gradient boosting routes NaN natively) and the two flags say which
case it is. A string is missing when it is None/NaN or normalises to nothing (no letter or digit):
such a value carries no evidence.

What to compare is a :class:`ComparisonSpec` per attribute. :func:`default_specs` picks every
comparison that fits each value kind, so nothing needs configuring; the schema/mapping JSON may
switch comparisons off or on per attribute, parsed by :func:`parse_comparison_overrides` and
applied by :func:`apply_comparison_overrides`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler
from sklearn.feature_extraction.text import TfidfVectorizer

from core.matching.feature_block import FeatureBlock, concat_blocks
from core.matching.memo import IdentityMemo
from core.matching.sparse_rows import pair_rows_dot

__all__ = [
    "ValueKind",
    "COMPARISONS_BY_KIND",
    "ComparisonSpec",
    "ComparisonOverride",
    "default_spec",
    "default_specs",
    "parse_comparison_overrides",
    "apply_comparison_overrides",
    "compare_attribute",
    "compare_attributes",
    "normalise_text",
    "as_numbers",
    "as_dates",
]

#: Per-pair values as given: a list, a NumPy array or a pandas Series.
ArrayLike = Sequence | np.ndarray | pd.Series

NAME_ATTRIBUTE = "name"


class ValueKind(str, Enum):
    """What an attribute's values are, which decides how two of them are compared."""

    STRING = "string"
    NUMBER = "number"
    DATE = "date"

    @classmethod
    def parse(cls, kind: "ValueKind | str") -> "ValueKind":
        """The kind for a name; ``"text"`` (the knowledge graph's word for strings) means string."""
        if isinstance(kind, ValueKind):
            return kind
        if kind == "text":
            return cls.STRING
        try:
            return cls(kind)
        except ValueError:
            raise ValueError(
                f"unknown value kind {kind!r}; expected one of {[k.value for k in cls]} (or 'text')"
            ) from None


_MISSING_FLAGS = ("missing_on_one", "missing_on_both")

#: Every comparison available for each value kind, in the order the columns come out.
COMPARISONS_BY_KIND: dict[ValueKind, tuple[str, ...]] = {
    ValueKind.STRING: ("exact", "jaro_winkler", "token_set_ratio", "ratio", "tfidf_word_cosine",
                       "tfidf_char3_cosine", "length_ratio") + _MISSING_FLAGS,
    ValueKind.NUMBER: ("absolute_difference", "relative_difference") + _MISSING_FLAGS,
    ValueKind.DATE: ("days_difference", "years_difference") + _MISSING_FLAGS,
}


@dataclass(frozen=True)
class ComparisonSpec:
    """Which comparisons to compute for one aligned attribute.

    Parameters
    ----------
    attribute : str
        The aligned attribute name; it names the columns (``"title.exact"``) and their group.
        ``"name"`` is the entities' display name.
    kind : ValueKind or str
        ``"string"``, ``"number"`` or ``"date"`` (``"text"`` is read as string).
    comparisons : tuple of str
        A subset of ``COMPARISONS_BY_KIND[kind]``; columns come out in that canonical order.
    left_column, right_column : str, optional
        What each side calls the attribute, for the caller that gathers the values. Default:
        ``attribute``.

    Raises
    ------
    ValueError
        An unknown kind, or a comparison that does not apply to the kind.
    """

    attribute: str
    kind: ValueKind
    comparisons: tuple[str, ...]
    left_column: str | None = None
    right_column: str | None = None

    def __post_init__(self) -> None:
        kind = ValueKind.parse(self.kind)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "comparisons", tuple(self.comparisons))
        known = COMPARISONS_BY_KIND[kind]
        unknown = [c for c in self.comparisons if c not in known]
        if unknown:
            raise ValueError(
                f"attribute {self.attribute!r} ({kind.value}): unknown comparisons {unknown}; "
                f"known for {kind.value}: {list(known)}"
            )

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(f"{self.attribute}.{c}" for c in self.ordered_comparisons)

    @property
    def ordered_comparisons(self) -> tuple[str, ...]:
        """The comparisons that are on, in canonical order (so column order never depends on typing order)."""
        return tuple(c for c in COMPARISONS_BY_KIND[self.kind] if c in self.comparisons)


# --------------------------------------------------------------------------------------------
# Defaults and overrides
# --------------------------------------------------------------------------------------------


def default_spec(attribute: str, kind: ValueKind | str, *, left_column: str | None = None,
                 right_column: str | None = None) -> ComparisonSpec:
    """Every comparison that fits ``kind``: with no configuration, the learner picks what helps.

    >>> default_spec("year", "number").comparisons
    ('absolute_difference', 'relative_difference', 'missing_on_one', 'missing_on_both')
    """
    kind = ValueKind.parse(kind)
    return ComparisonSpec(attribute, kind, COMPARISONS_BY_KIND[kind], left_column, right_column)


def default_specs(attribute_kinds: Mapping[str, ValueKind | str], *,
                  include_name: bool = True) -> tuple[ComparisonSpec, ...]:
    """Default specs for the display name (a string) and each attribute, from its value kind.

    Parameters
    ----------
    attribute_kinds : mapping of aligned attribute name -> kind
        E.g. ``{"year": "number", "released": "date", "genre": "text"}``, as
        :meth:`KnowledgeGraph.attribute_kind` reports them.
    include_name : bool
        Put a string spec for the display name first (group ``"name"``).

    Raises
    ------
    ValueError
        An attribute called ``"name"`` while ``include_name`` (its columns would collide with
        the display name's), or an unknown kind.
    """
    if include_name and NAME_ATTRIBUTE in attribute_kinds:
        raise ValueError(
            f"an aligned attribute is called {NAME_ATTRIBUTE!r}, which is the display name's group; "
            "rename the attribute in the schema mapping"
        )
    specs = [default_spec(NAME_ATTRIBUTE, ValueKind.STRING)] if include_name else []
    specs += [default_spec(a, k) for a, k in attribute_kinds.items()]
    return tuple(specs)


@dataclass(frozen=True)
class ComparisonOverride:
    """A user's change to one attribute's comparisons: a new kind, comparisons off, comparisons on."""

    kind: ValueKind | None = None
    off: tuple[str, ...] = ()
    add: tuple[str, ...] = ()


_OVERRIDE_KEYS = ("kind", "off", "add")


def parse_comparison_overrides(data: Mapping, *, where: str = "comparisons") -> dict[str, ComparisonOverride]:
    """Read per-attribute overrides from the plain dict the schema/mapping JSON carries.

    The expected shape (every key optional)::

        {"title": {"off": ["length_ratio"], "add": []},
         "year": {"kind": "date"}}

    Every problem is collected and raised once, each naming its key path
    (``comparisons.title.of``), so a user fixes the file in one pass.

    Raises
    ------
    ValueError
        Not a dict; an unknown key; a kind that does not exist; ``off``/``add`` not a list of
        strings; a comparison name no kind knows.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected an object mapping attribute names to overrides, "
                         f"got {type(data).__name__}")
    problems: list[str] = []
    overrides = {str(a): _parse_one_override(entry, f"{where}.{a}", problems) for a, entry in data.items()}
    if problems:
        raise ValueError("invalid comparison overrides:\n  " + "\n  ".join(problems))
    return overrides


def _parse_one_override(entry, where: str, problems: list[str]) -> ComparisonOverride:
    if not isinstance(entry, Mapping):
        problems.append(f"{where}: expected an object with keys {list(_OVERRIDE_KEYS)}, got {entry!r}")
        return ComparisonOverride()
    problems += [f"{where}.{k}: unknown key; expected one of {list(_OVERRIDE_KEYS)}"
                 for k in entry if k not in _OVERRIDE_KEYS]
    kind = None
    if "kind" in entry:
        try:
            kind = ValueKind.parse(entry["kind"])
        except ValueError as error:
            problems.append(f"{where}.kind: {error}")
    lists = {key: _comparison_list(entry.get(key, []), f"{where}.{key}", problems) for key in ("off", "add")}
    return ComparisonOverride(kind=kind, off=lists["off"], add=lists["add"])


def _comparison_list(value, where: str, problems: list[str]) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        problems.append(f"{where}: expected a list of comparison names, got {value!r}")
        return ()
    every = {c for names in COMPARISONS_BY_KIND.values() for c in names}
    problems += [f"{where}: unknown comparison {v!r}; known: {sorted(every)}" for v in value if v not in every]
    return tuple(value)


def apply_comparison_overrides(specs: Iterable[ComparisonSpec],
                               overrides: Mapping[str, ComparisonOverride], *,
                               where: str = "comparisons") -> tuple[ComparisonSpec, ...]:
    """Specs with the user's overrides applied; an attribute with every comparison off is dropped.

    A new kind first resets the attribute to that kind's defaults; then ``off`` removes and
    ``add`` adds. Problems are collected and raised once.

    Raises
    ------
    ValueError
        An override for an attribute that has no spec, or a comparison that does not apply to the
        attribute's (possibly overridden) kind.
    """
    specs = tuple(specs)
    known = [s.attribute for s in specs]
    problems = [f"{where}.{a}: no such attribute; known: {known}" for a in overrides if a not in known]
    out = []
    for spec in specs:
        change = overrides.get(spec.attribute)
        updated = spec if change is None else _apply_one(spec, change, f"{where}.{spec.attribute}", problems)
        if updated.comparisons:
            out.append(updated)
    if problems:
        raise ValueError("invalid comparison overrides:\n  " + "\n  ".join(problems))
    return tuple(out)


def _apply_one(spec: ComparisonSpec, change: ComparisonOverride, where: str, problems: list[str]) -> ComparisonSpec:
    kind = change.kind or spec.kind
    allowed = COMPARISONS_BY_KIND[kind]
    base = allowed if change.kind is not None and change.kind != spec.kind else spec.comparisons
    for key, names in (("off", change.off), ("add", change.add)):
        problems += [f"{where}.{key}: {n!r} does not apply to {kind.value} values; known: {list(allowed)}"
                     for n in names if n not in allowed]
    chosen = [c for c in allowed if (c in base or c in change.add) and c not in change.off]
    return replace(spec, kind=kind, comparisons=tuple(chosen))


# --------------------------------------------------------------------------------------------
# Value preparation
# --------------------------------------------------------------------------------------------


def normalise_text(values: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Values as comparable text, and which are missing.

    NFKC, casefold, every run of punctuation/whitespace/underscore becomes one space, then strip:
    "Carrie-Anne  Moss" and "carrie anne moss" become equal. Numbers become their text
    (1999.0 -> "1999"). Missing: None/NaN, or nothing left after normalising.

    Returns
    -------
    text : (N,) object array of str ("" where missing)
    missing : (N,) bool

    Examples
    --------
    >>> text, missing = normalise_text(["Carrie-Anne  Moss!", None, 1999.0, " -- "])
    >>> text.tolist(), missing.tolist()
    (['carrie anne moss', '', '1999', ''], [False, True, False, True])
    """
    # values come gathered per pair, so each distinct value is normalised once and spread back
    codes, uniques = pd.factorize(pd.Series(np.asarray(values, dtype=object), dtype=object), use_na_sentinel=True)
    series = pd.Series(np.asarray(uniques, dtype=object), dtype=object)
    text = series.astype(str).str.replace(r"^(-?\d+)\.0$", r"\1", regex=True)
    text = (text.str.normalize("NFKC").str.casefold()
            .str.replace(r"[\W_]+", " ", regex=True).str.strip()).to_numpy(dtype=object)
    out = np.where(codes >= 0, text[np.clip(codes, 0, None)] if len(text) else "", "").astype(object)
    return out, out == ""


def as_numbers(values: ArrayLike) -> np.ndarray:
    """Values as float64, NaN where missing or not a number (``"12"`` parses, ``"n/a"`` is NaN)."""
    series = pd.Series(np.asarray(values, dtype=object), dtype=object)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def as_dates(values: ArrayLike) -> pd.Series:
    """Values as datetimes (NaT where missing or unparseable); strings in any common format."""
    array = np.asarray(values)
    if np.issubdtype(array.dtype, np.datetime64):
        return pd.Series(array)
    return pd.to_datetime(pd.Series(array, dtype=object), errors="coerce", format="mixed")


# --------------------------------------------------------------------------------------------
# Single comparisons (each: N pairs in, N floats out; missing handled by the caller)
# --------------------------------------------------------------------------------------------


def exact_match(left_text: np.ndarray, right_text: np.ndarray) -> np.ndarray:
    return (left_text == right_text).astype(np.float64)


def length_ratio(left_text: np.ndarray, right_text: np.ndarray) -> np.ndarray:
    """Shorter length over longer length: 1 for equal lengths, near 0 for a word against a sentence."""
    lengths = np.column_stack([pd.Series(left_text, dtype=object).str.len(),
                               pd.Series(right_text, dtype=object).str.len()]).astype(np.float64)
    longest = lengths.max(axis=1)
    return np.divide(lengths.min(axis=1), longest, out=np.ones(len(longest)), where=longest > 0)


def fuzzy_similarity(left_text: np.ndarray, right_text: np.ndarray, scorer, *, scale: float = 1.0) -> np.ndarray:
    """A rapidfuzz scorer applied element-wise (``cpdist``, in C), divided by ``scale``.

    ``scale`` is the scorer's maximum (100 for the ``fuzz`` ratios), so every column is in [0, 1].
    """
    return process.cpdist(list(left_text), list(right_text), scorer=scorer, dtype=np.float64) / scale


def tfidf_cosine(left_text: np.ndarray, right_text: np.ndarray, corpus: Sequence[str], *,
                 analyzer: str) -> np.ndarray:
    """Cosine of the two values' TF-IDF vectors, IDF fitted on ``corpus`` (distinct values).

    ``analyzer="word"`` uses every token (single letters included, since initials matter in
    names); ``"char_wb"`` uses character 3-grams inside word boundaries, which survive typos
    and word-order changes. Each distinct value is vectorised once, then rows are gathered per
    pair. A value sharing no term with the corpus has a zero vector and cosine 0.
    """
    corpus = tuple(c for c in dict.fromkeys(corpus) if c)
    if not corpus:
        return np.zeros(len(left_text))
    vectoriser = _BY_CONTENT.get((), ("vectoriser", analyzer, corpus), lambda: _fitted_vectoriser(corpus, analyzer))
    codes, distinct = pd.factorize(np.concatenate([left_text, right_text]))
    vectors = vectoriser.transform(list(distinct))
    return pair_rows_dot(vectors, vectors, codes[:len(left_text)], codes[len(left_text):])


def _fitted_vectoriser(corpus: tuple[str, ...], analyzer: str) -> TfidfVectorizer:
    options = ({"analyzer": "word", "token_pattern": r"(?u)\b\w+\b"} if analyzer == "word"
               else {"analyzer": "char_wb", "ngram_range": (3, 3)})
    return TfidfVectorizer(lowercase=False, dtype=np.float64, **options).fit(list(corpus))


#: Fitted vectorisers and normalised corpora, keyed by the corpus itself (no inputs held by
#: identity: the corpus is a new array each call, with the same content): the corpus of an
#: attribute is every entity's value, the same for each set of pairs a process compares (the fit
#: rows, every candidate, the labelled pairs), and normalising and fitting it costs seconds on a
#: big graph.
_BY_CONTENT = IdentityMemo(size=8)


def absolute_difference(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    return np.abs(left - right)


def relative_difference(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``|a - b| / max(|a|, |b|)``, in [0, 2]; 0 when both are 0 (equal values differ by nothing)."""
    scale = np.maximum(np.abs(left), np.abs(right))
    return np.divide(np.abs(left - right), scale, out=np.zeros(len(scale)), where=scale > 0)


def days_difference(left: pd.Series, right: pd.Series) -> np.ndarray:
    delta = (left.reset_index(drop=True) - right.reset_index(drop=True)).abs()
    return (delta / pd.Timedelta(days=1)).to_numpy(dtype=np.float64, na_value=np.nan)


def years_difference(left: pd.Series, right: pd.Series) -> np.ndarray:
    """Difference of calendar years, not days / 365: sources that know only the year store
    1 January, so 1999-01-01 against 1999-12-31 must read as the same year."""
    years = [s.reset_index(drop=True).dt.year.to_numpy(dtype=np.float64, na_value=np.nan) for s in (left, right)]
    return np.abs(years[0] - years[1])


# --------------------------------------------------------------------------------------------
# Per attribute and for all attributes
# --------------------------------------------------------------------------------------------

#: Comparison -> (rapidfuzz scorer, its maximum score).
_STRING_SCORERS = {"jaro_winkler": (JaroWinkler.normalized_similarity, 1.0),
                   "token_set_ratio": (fuzz.token_set_ratio, 100.0), "ratio": (fuzz.ratio, 100.0)}


def _string_columns(spec: ComparisonSpec, left_values, right_values, corpus):
    left_text, left_missing = normalise_text(left_values)
    right_text, right_missing = normalise_text(right_values)
    if corpus is None:
        corpus = np.concatenate([left_text, right_text])
    else:
        raw = tuple(corpus)
        corpus = _BY_CONTENT.get((), ("normalised", raw), lambda: normalise_text(list(raw))[0])
    columns = {}
    for name in spec.ordered_comparisons:
        if name == "exact":
            columns[name] = exact_match(left_text, right_text)
        elif name == "length_ratio":
            columns[name] = length_ratio(left_text, right_text)
        elif name in _STRING_SCORERS:
            scorer, scale = _STRING_SCORERS[name]
            columns[name] = fuzzy_similarity(left_text, right_text, scorer, scale=scale)
        elif name == "tfidf_word_cosine":
            columns[name] = tfidf_cosine(left_text, right_text, corpus, analyzer="word")
        elif name == "tfidf_char3_cosine":
            columns[name] = tfidf_cosine(left_text, right_text, corpus, analyzer="char_wb")
    return columns, left_missing, right_missing


def _number_columns(spec: ComparisonSpec, left_values, right_values):
    left, right = as_numbers(left_values), as_numbers(right_values)
    functions = {"absolute_difference": absolute_difference, "relative_difference": relative_difference}
    columns = {n: functions[n](left, right) for n in spec.ordered_comparisons if n in functions}
    return columns, np.isnan(left), np.isnan(right)


def _date_columns(spec: ComparisonSpec, left_values, right_values):
    left, right = as_dates(left_values), as_dates(right_values)
    functions = {"days_difference": days_difference, "years_difference": years_difference}
    columns = {n: functions[n](left, right) for n in spec.ordered_comparisons if n in functions}
    return columns, left.isna().to_numpy(), right.isna().to_numpy()


def compare_attribute(spec: ComparisonSpec, left_values: ArrayLike, right_values: ArrayLike, *,
                      corpus: Iterable[str] | None = None) -> FeatureBlock:
    """The comparison columns of one attribute for N pairs (values already gathered per pair).

    Parameters
    ----------
    spec : ComparisonSpec
    left_values, right_values : (N,) arrays
        The attribute's value on the left and right entity of each pair: str, float, datetime,
        or None/NaN/NaT where missing.
    corpus : iterable of str, optional
        Text to fit TF-IDF's IDF on (strings only); best: every entity's value on both sides.
        Default: the distinct values among these pairs. No labels are involved either way, so
        train, valid and test pairs may share one call (and should, to share one IDF).

    Returns
    -------
    FeatureBlock
        Columns ``spec.column_names``, all in group ``spec.attribute``. Similarity columns are
        NaN where either side is missing; the missing flags are 0/1.

    Examples
    --------
    >>> spec = ComparisonSpec("year", "number", ("absolute_difference", "missing_on_one"))
    >>> compare_attribute(spec, [1999.0, 2003.0], [2001.0, None]).values.tolist()
    [[2.0, 0.0], [nan, 1.0]]
    """
    left_values, right_values = np.asarray(left_values), np.asarray(right_values)
    if len(left_values) != len(right_values):
        raise ValueError(f"attribute {spec.attribute!r}: {len(left_values)} left values for "
                         f"{len(right_values)} right values; expected one of each per pair")
    if spec.kind is ValueKind.STRING:
        columns, left_missing, right_missing = _string_columns(spec, left_values, right_values, corpus)
    elif spec.kind is ValueKind.NUMBER:
        columns, left_missing, right_missing = _number_columns(spec, left_values, right_values)
    else:
        columns, left_missing, right_missing = _date_columns(spec, left_values, right_values)
    either = left_missing | right_missing
    flags = {"missing_on_one": (left_missing ^ right_missing).astype(np.float64),
             "missing_on_both": (left_missing & right_missing).astype(np.float64)}
    columns = {n: np.where(either, np.nan, v) for n, v in columns.items()}
    columns |= {n: v for n, v in flags.items() if n in spec.comparisons}
    ordered = [columns[n] for n in spec.ordered_comparisons]
    matrix = np.column_stack(ordered) if ordered else np.zeros((len(left_values), 0))
    return FeatureBlock(spec.column_names, (spec.attribute,) * len(ordered), matrix.astype(np.float64))


def compare_attributes(specs: Iterable[ComparisonSpec], left_values: Mapping[str, ArrayLike],
                       right_values: Mapping[str, ArrayLike], *,
                       corpora: Mapping[str, Iterable[str]] | None = None) -> FeatureBlock:
    """All specs' columns side by side, one group per attribute.

    Parameters
    ----------
    specs : iterable of ComparisonSpec
    left_values, right_values : mapping of attribute -> (N,) array
        Keyed by ``spec.attribute``; the values of each pair's left and right entity.
    corpora : mapping of attribute -> iterable of str, optional
        TF-IDF corpus per string attribute (see :func:`compare_attribute`).

    Raises
    ------
    KeyError
        A spec whose attribute has no values, naming the attribute and the keys given.
    """
    specs = tuple(specs)
    corpora = corpora or {}
    for side, values in (("left", left_values), ("right", right_values)):
        absent = [s.attribute for s in specs if s.attribute not in values]
        if absent:
            raise KeyError(f"no {side} values for attributes {absent}; given: {sorted(values)}")
    return concat_blocks([
        compare_attribute(s, left_values[s.attribute], right_values[s.attribute],
                          corpus=corpora.get(s.attribute)) for s in specs
    ])

