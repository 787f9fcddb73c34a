"""Comparison features against hand-computed values, missing values, defaults and overrides."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.matching.comparisons import (
    COMPARISONS_BY_KIND,
    ComparisonSpec,
    ValueKind,
    apply_comparison_overrides,
    compare_attribute,
    compare_attributes,
    default_spec,
    default_specs,
    normalise_text,
    parse_comparison_overrides,
)


def column(block, name):
    return block.values[:, block.names.index(name)]


def string_block(left, right, *comparisons, corpus=None):
    spec = ComparisonSpec("title", "string", comparisons or COMPARISONS_BY_KIND[ValueKind.STRING])
    return compare_attribute(spec, np.array(left, dtype=object), np.array(right, dtype=object), corpus=corpus)


# ---- strings --------------------------------------------------------------------------------


def test_normalisation_casefolds_strips_punctuation_and_collapses_whitespace():
    text, missing = normalise_text(["  Carrie-Anne   MOSS ", "Straße_1", "!!", None, np.nan, 2003.0])
    assert text.tolist() == ["carrie anne moss", "strasse 1", "", "", "", "2003"]
    assert missing.tolist() == [False, False, True, True, True, False]


def test_exact_after_normalisation():
    block = string_block(["Carrie-Anne Moss", "The Matrix"], ["carrie anne  moss", "Matrix"], "exact")
    assert column(block, "title.exact").tolist() == [1.0, 0.0]


def test_jaro_winkler_matches_the_textbook_value():
    # MARTHA / MARHTA: m = 6, t = 1, Jaro = (1 + 1 + 5/6) / 3 = 0.9444; prefix 3 -> +0.3 * 0.0556.
    block = string_block(["MARTHA"], ["marhta"], "jaro_winkler")
    assert column(block, "title.jaro_winkler")[0] == pytest.approx(0.9611, abs=1e-4)


def test_indel_ratio_and_token_set_ratio():
    # "abcd" vs "abce": Indel distance 2 over 8 characters -> 1 - 2/8.
    block = string_block(["abcd", "the matrix"], ["abce", "matrix the"], "ratio", "token_set_ratio")
    assert column(block, "title.ratio")[0] == pytest.approx(0.75)
    # The same tokens in another order are a perfect token-set match.
    assert column(block, "title.token_set_ratio")[1] == pytest.approx(1.0)


def test_length_ratio_is_shorter_over_longer():
    block = string_block(["speed", "ab"], ["speedy", "abcd"], "length_ratio")
    assert column(block, "title.length_ratio").tolist() == pytest.approx([5 / 6, 0.5])


def test_word_tfidf_cosine_by_hand():
    # Corpus {"a b", "a c"}: smooth idf(a) = ln(3/3) + 1 = 1, idf(b) = idf(c) = ln(3/2) + 1 = w.
    # Vectors (1, w, 0) and (1, 0, w): cosine = 1 / (1 + w^2).
    w = math.log(1.5) + 1
    block = string_block(["a b"], ["a c"], "tfidf_word_cosine")
    assert column(block, "title.tfidf_word_cosine")[0] == pytest.approx(1 / (1 + w * w))


def test_char_trigram_cosine_survives_a_typo_and_word_order():
    block = string_block(["keanu reeves", "keanu reeves"], ["reeves keanu", "zzz"], "tfidf_char3_cosine")
    reordered, unrelated = column(block, "title.tfidf_char3_cosine")
    assert reordered == pytest.approx(1.0)  # char_wb n-grams live inside words
    assert unrelated == 0.0


def test_tfidf_uses_the_given_corpus():
    # With "a" in every corpus document, idf(a) = 1 and idf(b) = ln(4/2) + 1 (b in 1 of 3 docs).
    block = string_block(["a b"], ["a"], "tfidf_word_cosine", corpus=["a b", "a", "a d"])
    w = math.log(4 / 2) + 1
    assert column(block, "title.tfidf_word_cosine")[0] == pytest.approx(1 / math.sqrt(1 + w * w))


def test_missing_strings_give_nan_similarities_and_flags():
    block = string_block(["x", None, "", "y"], ["x", "x", None, "-"])
    similarities = [n for n in block.names if not n.endswith(("missing_on_one", "missing_on_both"))]
    values = block.values[:, [block.names.index(n) for n in similarities]]
    assert not np.isnan(values[0]).any()
    assert np.isnan(values[1:]).all()
    assert column(block, "title.missing_on_one").tolist() == [0.0, 1.0, 0.0, 1.0]
    assert column(block, "title.missing_on_both").tolist() == [0.0, 0.0, 1.0, 0.0]


# ---- numbers and dates ------------------------------------------------------------------------


def test_number_differences_by_hand():
    spec = default_spec("year", "number")
    block = compare_attribute(spec, [1999.0, 0.0, "12", None, np.nan],
                              [2001.0, 0.0, 10, 5.0, np.nan])
    assert column(block, "year.absolute_difference")[:3].tolist() == [2.0, 0.0, 2.0]
    assert column(block, "year.relative_difference")[:3].tolist() == pytest.approx([2 / 2001, 0.0, 2 / 12])
    assert np.isnan(block.values[3:, :2]).all()
    assert column(block, "year.missing_on_one").tolist() == [0, 0, 0, 1, 0]
    assert column(block, "year.missing_on_both").tolist() == [0, 0, 0, 0, 1]


def test_date_differences_in_days_and_calendar_years():
    spec = default_spec("born", "date")
    left = np.array(["1964-09-02", "1999-01-01", None], dtype=object)
    right = pd.Series(pd.to_datetime(["1964-09-12", "1999-12-31", "2000-01-01"])).to_numpy()
    block = compare_attribute(spec, left, right)
    assert column(block, "born.days_difference")[:2].tolist() == [10.0, 364.0]
    # Same calendar year although 364 days apart: year-only sources store 1 January.
    assert column(block, "born.years_difference")[:2].tolist() == [0.0, 0.0]
    assert np.isnan(block.values[2, :2]).all()
    assert column(block, "born.missing_on_one")[2] == 1.0


def test_dates_from_datetime_arrays_with_nat():
    spec = ComparisonSpec("born", "date", ("days_difference",))
    left = np.array(["2000-01-01", "NaT"], dtype="datetime64[us]")
    right = np.array(["2000-01-03", "2000-01-01"], dtype="datetime64[us]")
    assert compare_attribute(spec, left, right).values[:, 0].tolist()[0] == 2.0
    assert np.isnan(compare_attribute(spec, left, right).values[1, 0])


# ---- specs, defaults, overrides -------------------------------------------------------------


def test_defaults_from_value_kinds_put_the_name_first():
    specs = default_specs({"year": "number", "released": "date", "genre": "text"})
    assert [(s.attribute, s.kind) for s in specs] == [
        ("name", ValueKind.STRING), ("year", ValueKind.NUMBER), ("released", ValueKind.DATE),
        ("genre", ValueKind.STRING)]
    assert specs[0].comparisons == COMPARISONS_BY_KIND[ValueKind.STRING]


def test_an_attribute_called_name_is_refused():
    with pytest.raises(ValueError, match="rename the attribute"):
        default_specs({"name": "text"})


def test_spec_rejects_a_comparison_of_another_kind():
    with pytest.raises(ValueError, match="'jaro_winkler'.*known for number"):
        ComparisonSpec("year", "number", ("jaro_winkler",))


def test_columns_come_out_in_canonical_order_whatever_the_typing_order():
    spec = ComparisonSpec("t", "string", ("length_ratio", "exact"))
    assert spec.column_names == ("t.exact", "t.length_ratio")


def test_overrides_switch_off_add_and_change_kind():
    specs = (ComparisonSpec("title", "string", ("exact", "ratio")), default_spec("year", "number"),
             ComparisonSpec("isbn", "string", ("exact",)))
    overrides = parse_comparison_overrides({
        "title": {"off": ["ratio"], "add": ["jaro_winkler"]},
        "year": {"kind": "date"},
        "isbn": {"off": ["exact"]},
    })
    title, year = apply_comparison_overrides(specs, overrides)  # isbn: nothing left, dropped
    assert title.comparisons == ("exact", "jaro_winkler")
    assert year.kind is ValueKind.DATE and year.comparisons == COMPARISONS_BY_KIND[ValueKind.DATE]


def test_bad_overrides_are_all_reported_with_their_key_paths():
    with pytest.raises(ValueError) as error:
        parse_comparison_overrides({"title": {"of": ["ratio"], "add": ["jaro"], "kind": "money"},
                                    "year": "off"})
    message = str(error.value)
    assert "comparisons.title.of: unknown key" in message
    assert "comparisons.title.add: unknown comparison 'jaro'" in message
    assert "comparisons.title.kind: unknown value kind 'money'" in message
    assert "comparisons.year: expected an object" in message


def test_override_for_an_unknown_attribute_or_a_misfit_comparison():
    overrides = parse_comparison_overrides({"titel": {"off": ["exact"]},
                                            "year": {"add": ["jaro_winkler"]}})
    with pytest.raises(ValueError) as error:
        apply_comparison_overrides(default_specs({"year": "number"}), overrides)
    assert "comparisons.titel: no such attribute" in str(error.value)
    assert "comparisons.year.add: 'jaro_winkler' does not apply to number values" in str(error.value)


def test_compare_attributes_stacks_groups_and_names_missing_values():
    specs = (ComparisonSpec("name", "string", ("exact",)), ComparisonSpec("year", "number", ("absolute_difference",)))
    block = compare_attributes(specs, {"name": ["a", "b"], "year": [1.0, 2.0]},
                               {"name": ["a", "c"], "year": [1.0, 5.0]})
    assert block.names == ("name.exact", "year.absolute_difference")
    assert block.groups == ("name", "year")
    assert block.values.tolist() == [[1.0, 0.0], [0.0, 3.0]]
    with pytest.raises(KeyError, match=r"no right values for attributes \['year'\]"):
        compare_attributes(specs, {"name": ["a"], "year": [1.0]}, {"name": ["a"]})


def test_vectorised_over_many_pairs_quickly():
    rng = np.random.default_rng(0)
    words = np.array(["matrix", "speed", "reloaded", "the", "keanu", "moss", "zion"], dtype=object)
    left = [" ".join(rng.choice(words, 3)) for _ in range(10_000)]
    right = [" ".join(rng.choice(words, 2)) for _ in range(10_000)]
    block = string_block(left, right)
    assert block.values.shape == (10_000, len(COMPARISONS_BY_KIND[ValueKind.STRING]))
    assert np.nanmax(block.values) <= 1.0 + 1e-12 and np.nanmin(block.values) >= 0.0
