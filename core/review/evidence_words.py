"""The drawing's evidence in words: what the two neighbourhoods share, and what the model weighed.

A drawing of two neighbourhoods makes the analyst count by eye; alpha, beta and w are machine-
learning words, and with one or two neighbours they are trivially 1.0. This module reads an
explanation (:class:`core.explanations.attention.Explanation`, passed in: ``core.review`` does not
import the model's packages, so it stays light and torch-free) and says the same in sentences:

    "3 of 4 films shared (Green Knife 4, Southern Knife, The Horizon of Rhea); 1 film only on the left"
    "Keanu Reeves (acted): counted most"

**Shared** neighbours are pairs (left neighbour, right neighbour) of the same aligned type that
are known to match (a seed link or an accepted label, passed in as ``known_matches``) or whose
names look alike (equal after folding case, accents and punctuation; one name's words contained
in the other's; or character trigrams mostly in common). Each neighbour is used once, most alike
first. That is the analyst's notion of "both graphs know this film", independent of the model.

**Weight in words** compares a neighbour's combined weight w with an even share (1/n for n
neighbours on its side), so the words mean the same whatever n is: ``counted most`` (the largest,
and well above an even share), ``counted a lot`` (above 1.5 even shares), ``counted`` (about an
even share), ``counted little`` (under half of one) and ``ignored`` (under 15%). A side with one
neighbour says ``the only neighbour``: its weight is 1 by construction and means nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass

SIDES = ("left", "right")
#: A neighbour's share against an even share (1/n): thresholds of the words (module docstring).
WEIGHT_WORDS = ((1.5, "counted a lot"), (0.5, "counted"), (0.15, "counted little"), (0.0, "ignored"))
MOST, ONLY = "counted most", "the only neighbour"
TRIGRAM_DICE = 0.75  # names with at least this share of character trigrams in common look alike
NAMES_SHOWN = 3


@dataclass(frozen=True)
class NeighbourInWords:
    """One hop-1 neighbour of one side, with its weight in words.

    ``weight``/``alpha``/``beta`` are summed over the neighbour's slots (sampled through several
    relations), as the drawing sums them; ``shared_with`` names the other side's neighbour it was
    paired with as the same entity, or ``None``.
    """

    side: str
    entity_id: str
    name: str
    type: str  # aligned type name
    relations: tuple[str, ...]
    weight: float
    alpha: float
    beta: float
    words: str
    shared_with: str | None


@dataclass(frozen=True)
class TypeOverlap:
    """How one aligned type's hop-1 neighbours compare across the two sides."""

    type: str
    left_count: int
    right_count: int
    shared: tuple[tuple[str, str], ...]  # (left name, right name), most weighted first
    only_left: tuple[str, ...]
    only_right: tuple[str, ...]

    @property
    def sentence(self) -> str:
        """E.g. ``3 of 4 films shared (A, B, C); 1 film only on the left; 2 only on the right``."""
        k, n_left, n_right = len(self.shared), self.left_count, self.right_count
        if n_left == 0:
            return f"no {plural(self.type)} on the left; {count(n_right, self.type)} on the right"
        if n_right == 0:
            return f"{count(n_left, self.type)} on the left; none on the right"
        if k == 0:
            parts = [f"no {plural(self.type)} shared ({count(n_left, self.type)} on the left, {n_right} on the right)"]
        else:
            names = [left for left, _ in self.shared[:NAMES_SHOWN]]
            shown = ", ".join(names) + (", …" if k > NAMES_SHOWN else "")
            parts = [f"{k} of {count(n_left, self.type)} shared ({shown})"]
            if len(self.only_left):
                parts.append(f"{count(len(self.only_left), self.type)} only on the left")
            if len(self.only_right):
                parts.append(f"{len(self.only_right)} only on the right")
        return "; ".join(parts)


@dataclass(frozen=True)
class EvidenceInWords:
    """Everything :func:`evidence_in_words` says about a pair."""

    overlaps: tuple[TypeOverlap, ...]  # one per aligned type with hop-1 neighbours, biggest first
    neighbours: tuple[NeighbourInWords, ...]  # left side then right, by decreasing weight

    @property
    def sentences(self) -> tuple[str, ...]:
        if not self.overlaps:
            return ("Neither entity has neighbours: the score rests on the names and attributes alone.",)
        return tuple(o.sentence for o in self.overlaps)

    def side(self, side: str) -> tuple[NeighbourInWords, ...]:
        if side not in SIDES:
            raise ValueError(f"side must be 'left' or 'right', got {side!r}")
        return tuple(n for n in self.neighbours if n.side == side)


@dataclass(frozen=True, eq=False)
class KnownPairs:
    """Pairs known to match, held in several sets and looked up in each: nothing is copied.

    A big project's 590K seed links took 0.9 s to copy into one set on every pair drawn; the
    drawing only asks about the few dozen neighbour pairs it shows.
    """

    parts: tuple[Collection[tuple[str, str]], ...]

    def __contains__(self, pair) -> bool:
        return any(pair in part for part in self.parts)


def evidence_in_words(explanation, *, known_matches: Collection[tuple[str, str]] = ()) -> EvidenceInWords:
    """Sentences and per-neighbour words for one explained pair.

    Parameters
    ----------
    explanation : a :class:`core.explanations.attention.Explanation` (read: ``left``/``right``
        neighbour evidence and the neighbourhoods' hop-1 nodes for aligned type names).
    known_matches : (left_id, right_id) pairs known to be the same entity (seed links, accepted
        labels); they count as shared whatever their names.
    """
    known = (known_matches if isinstance(known_matches, (set, frozenset, KnownPairs))  # str pairs already
             else {(str(a), str(b)) for a, b in known_matches})
    sides = {side: _neighbours(explanation, side) for side in SIDES}
    shared = _pair_up(sides["left"], sides["right"], known)
    partner = {("left", a["id"]): b["name"] for a, b in shared} | {("right", b["id"]): a["name"] for a, b in shared}

    neighbours = []
    for side in SIDES:
        rows = sides[side]
        even = 1.0 / len(rows) if rows else 1.0
        heaviest = max((r["weight"] for r in rows), default=0.0)
        for r in rows:
            neighbours.append(NeighbourInWords(
                side, r["id"], r["name"], r["type"], tuple(r["relations"]), r["weight"], r["alpha"], r["beta"],
                weight_in_words(r["weight"], len(rows), is_heaviest=r["weight"] >= heaviest - 1e-12 and even > 0),
                partner.get((side, r["id"]))))

    overlaps = []
    types = sorted({r["type"] for side in SIDES for r in sides[side]},
                   key=lambda t: (-sum(r["type"] == t for side in SIDES for r in sides[side]), t))
    for t in types:
        pairs = tuple((a["name"], b["name"]) for a, b in shared if a["type"] == t)
        paired_left = {a["id"] for a, b in shared if a["type"] == t}
        paired_right = {b["id"] for a, b in shared if b["type"] == t}
        left_of_t = [r for r in sides["left"] if r["type"] == t]
        right_of_t = [r for r in sides["right"] if r["type"] == t]
        overlaps.append(TypeOverlap(
            t, len(left_of_t), len(right_of_t), pairs,
            tuple(r["name"] for r in left_of_t if r["id"] not in paired_left),
            tuple(r["name"] for r in right_of_t if r["id"] not in paired_right)))
    return EvidenceInWords(tuple(overlaps), tuple(neighbours))


def weight_in_words(weight: float, n_neighbours: int, *, is_heaviest: bool = False) -> str:
    """A neighbour's combined weight w in words, against an even share of its ``n_neighbours``.

    Examples
    --------
    >>> weight_in_words(0.55, 4, is_heaviest=True), weight_in_words(0.3, 4), weight_in_words(0.02, 4)
    ('counted most', 'counted', 'ignored')
    >>> weight_in_words(1.0, 1)
    'the only neighbour'
    """
    if n_neighbours <= 1:
        return ONLY
    share = float(weight) * n_neighbours
    if is_heaviest and share >= 1.5:
        return MOST
    for threshold, words in WEIGHT_WORDS:
        if share >= threshold:
            return words
    return WEIGHT_WORDS[-1][1]


def names_look_alike(a: str, b: str) -> bool:
    """Equal after folding, one's words inside the other's (two words or more), or trigrams mostly shared.

    Examples
    --------
    >>> names_look_alike("Southern Knife", "Southerñ Knife"), names_look_alike("Milan Pemberton", "Milan Pemberton Brennan")
    (True, True)
    >>> names_look_alike("Green Knife 4", "Green Knife 2")
    False
    """
    fa, fb = _fold(a), _fold(b)
    if not fa or not fb:
        return False
    if fa == fb:
        return True
    wa, wb = fa.split(), fb.split()
    small, large = (wa, wb) if len(wa) <= len(wb) else (wb, wa)
    if len(small) >= 2 and all(w in large for w in small):
        return True
    ta, tb = _trigrams(fa), _trigrams(fb)
    return 2 * len(ta & tb) / (len(ta) + len(tb)) >= TRIGRAM_DICE and _digits(fa) == _digits(fb)


def count(n: int, type_name: str) -> str:
    """``1 film``, ``3 films``, ``2 people``."""
    return f"{n} {type_name if n == 1 else plural(type_name)}"


def plural(type_name: str) -> str:
    irregular = {"person": "people", "child": "children", "man": "men", "woman": "women"}
    if type_name in irregular:
        return irregular[type_name]
    if type_name.endswith(("s", "x", "ch", "sh")):
        return type_name + "es"
    if type_name.endswith("y") and type_name[-2:-1] not in "aeiou":
        return type_name[:-1] + "ies"
    return type_name + "s"


def _neighbours(explanation, side: str) -> list[dict]:
    """The side's hop-1 neighbours, one per entity (slots summed), by decreasing weight."""
    evidence = explanation.left if side == "left" else explanation.right
    neighbourhood = explanation.left_neighbourhood if side == "left" else explanation.right_neighbourhood
    aligned = {n.entity_id: n.aligned_type for n in neighbourhood.nodes if getattr(n, "aligned_type", "")}
    merged: dict[str, dict] = {}
    for row in evidence:
        entry = merged.setdefault(row.entity_id, {
            "id": row.entity_id, "name": row.name, "type": aligned.get(row.entity_id) or row.type,
            "relations": [], "weight": 0.0, "alpha": 0.0, "beta": 0.0})
        if row.relation not in entry["relations"]:
            entry["relations"].append(row.relation)
        for key in ("weight", "alpha", "beta"):
            entry[key] += float(getattr(row, key))
    return sorted(merged.values(), key=lambda e: (-e["weight"], e["id"]))


def _pair_up(left: list[dict], right: list[dict], known: Collection[tuple[str, str]]) -> list[tuple[dict, dict]]:
    """Greedy one-to-one pairing of alike neighbours of one type: known matches, then names by likeness."""
    options = []
    for a in left:
        for b in right:
            if a["type"] != b["type"]:
                continue
            if (a["id"], b["id"]) in known:
                options.append((0, 0.0, a, b))
            elif names_look_alike(a["name"], b["name"]):
                options.append((1, -_likeness(a["name"], b["name"]), a, b))
    options.sort(key=lambda o: (o[0], o[1], -o[2]["weight"], o[2]["id"], o[3]["id"]))
    used_left, used_right, pairs = set(), set(), []
    for _, _, a, b in options:
        if a["id"] in used_left or b["id"] in used_right:
            continue
        used_left.add(a["id"])
        used_right.add(b["id"])
        pairs.append((a, b))
    return sorted(pairs, key=lambda p: (-p[0]["weight"], p[0]["id"]))


def _likeness(a: str, b: str) -> float:
    ta, tb = _trigrams(_fold(a)), _trigrams(_fold(b))
    return 2 * len(ta & tb) / max(len(ta) + len(tb), 1)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", str(text).casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^\w]+", " ", plain).split())


def _trigrams(text: str) -> set[str]:
    padded = f"  {text} "
    return {padded[i:i + 3] for i in range(len(padded) - 2)}


def _digits(text: str) -> list[str]:
    """Numbers in a name must agree: "Green Knife 4" is not "Green Knife 2"."""
    return re.findall(r"\d+", text)
