"""The drawing's evidence in words: shared neighbours counted by type, attention as plain words."""

from __future__ import annotations

import pytest

from core.explanations.attention import Explanation, NeighbourEvidence, Neighbourhood, NeighbourhoodNode
from core.review.evidence_words import evidence_in_words, names_look_alike, plural, weight_in_words


def evidence(entity_id, name, type_, weight, relation="acted_in", alpha=0.25, beta=0.25):
    return NeighbourEvidence(entity_id, name, type_, relation, alpha, beta, weight, None, None)


def explanation(left, right, aligned=None) -> Explanation:
    aligned = aligned or {}

    def hood(rows):
        return Neighbourhood(tuple(NeighbourhoodNode(r.entity_id, r.name, r.type, 1, aligned.get(r.type, r.type))
                                   for r in rows))

    return Explanation("p", "q", 0.5, -0.5, 0.9, "v1", tuple(left), tuple(right), hood(left), hood(right))


LEFT = [evidence("l1", "Green Knife 4", "film", 0.55), evidence("l2", "Southern Knife", "film", 0.3),
        evidence("l3", "The Horizon of Rhea", "film", 0.13), evidence("l4", "Lonely Road", "film", 0.02)]
RIGHT = [evidence("r1", "Green Knife 4", "movie", 0.4), evidence("r2", "Southerñ Knife", "movie", 0.3),
         evidence("r3", "the horizon of rhea", "movie", 0.3)]


def test_the_issue_sentence_for_four_films_three_shared():
    words = evidence_in_words(explanation(LEFT, RIGHT, {"movie": "film"}))
    assert words.sentences == (
        "3 of 4 films shared (Green Knife 4, Southern Knife, The Horizon of Rhea); 1 film only on the left",)
    assert [(n.name, n.words, n.shared_with) for n in words.side("left")] == [
        ("Green Knife 4", "counted most", "Green Knife 4"), ("Southern Knife", "counted", "Southerñ Knife"),
        ("The Horizon of Rhea", "counted", "the horizon of rhea"), ("Lonely Road", "ignored", None)]
    assert [n.words for n in words.side("right")] == ["counted", "counted", "counted"]  # an even split


def test_known_matches_count_as_shared_whatever_the_names_and_types_are_kept_apart():
    left = [evidence("a1", "K. Reeves", "person", 0.5, "starring"), evidence("g1", "Drama", "genre", 0.5, "genre")]
    right = [evidence("b1", "Keanu Reeves", "person", 0.6, "starring"), evidence("g2", "Drama", "genre", 0.4, "genre"),
             evidence("b2", "Carrie-Anne Moss", "person", 0.0, "starring")]
    words = evidence_in_words(explanation(left, right), known_matches={("a1", "b1")})
    assert words.sentences == ("1 of 1 person shared (K. Reeves); 1 only on the right", "1 of 1 genre shared (Drama)")
    assert evidence_in_words(explanation(left, right)).sentences[0] == \
        "no people shared (1 person on the left, 2 on the right)"


def test_one_sided_and_empty_neighbourhoods():
    assert evidence_in_words(explanation([], [])).sentences == (
        "Neither entity has neighbours: the score rests on the names and attributes alone.",)
    words = evidence_in_words(explanation([evidence("l1", "Alpha", "film", 1.0)], []))
    assert words.sentences == ("1 film on the left; none on the right",)
    assert words.side("left")[0].words == "the only neighbour"  # w = 1 by construction, says nothing


def test_a_neighbour_reached_through_two_relations_is_one_neighbour():
    left = [evidence("l1", "Ann", "person", 0.4, "acted"), evidence("l1", "Ann", "person", 0.35, "directed"),
            evidence("l2", "Bob", "person", 0.25, "acted")]
    words = evidence_in_words(explanation(left, []))
    ann = words.side("left")[0]
    assert (ann.relations, ann.weight, ann.words) == (("acted", "directed"), pytest.approx(0.75), "counted most")
    assert words.sentences == ("2 people on the left; none on the right",)


@pytest.mark.parametrize("weight, n, heaviest, expected", [
    (0.55, 4, True, "counted most"), (0.45, 4, False, "counted a lot"), (0.4, 4, True, "counted most"),
    (0.3, 4, True, "counted"), (0.1, 4, False, "counted little"), (0.03, 4, False, "ignored"),
    (0.5, 2, True, "counted"),  # two neighbours at one half each: an even share, not "most"
    (1.0, 1, True, "the only neighbour"),
])
def test_weight_words_are_relative_to_an_even_share(weight, n, heaviest, expected):
    assert weight_in_words(weight, n, is_heaviest=heaviest) == expected


@pytest.mark.parametrize("a, b, alike", [
    ("Southern Knife", "Southerñ Knife", True), ("OSKAR TREMAINE", "Oskar Tremaine", True),
    ("Miluan Pemberton", "Miluan Pemberton Brennan", True), ("Green Knife 4", "Green Knife 2", False),
    ("Milan", "Milano Rossi", False), ("", "", False), ("The Matrix", "Matrix", False),
])
def test_names_look_alike(a, b, alike):
    assert names_look_alike(a, b) is alike


def test_plural():
    assert [plural(t) for t in ("film", "person", "genre", "city", "day", "box")] == [
        "films", "people", "genres", "cities", "days", "boxes"]
