"""The bundled demo generator: deterministic, loadable, complete truth, and the planted hard cases
really there. Small scales only (a few hundred films/songs); bench/generate.py times large ones."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

from core.demo import names as demo_names
from core.demo.pairs import DemoPair, split_codes
from core.demo.writing import write_demo
from core.demo.movies import generate_movie_pair, movie_world
from core.demo.music import generate_music_pair
from core.data.links import Split
from core.formats.native import load_project

SCALE = 300


@pytest.fixture(scope="module")
def movies() -> DemoPair:
    return generate_movie_pair(SCALE, seed=0)


@pytest.fixture(scope="module")
def music() -> DemoPair:
    return generate_music_pair(SCALE, seed=0)


@pytest.fixture(scope="module", params=["movies", "music"])
def pair(request, movies, music) -> DemoPair:
    return {"movies": movies, "music": music}[request.param]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    return write_demo(tmp_path_factory.mktemp("demo"), scale=SCALE, seed=0)


# ------------------------------------------------------------------------------ helpers ----
def neighbours(kg, entity_id: str, relation: str) -> set[str]:
    """External ids linked to ``entity_id`` through ``relation`` (either direction)."""
    rel = kg.relation_names.index(relation)
    i = kg.indices_of([entity_id])[0]
    sel = kg.relations == rel
    heads, tails = kg.heads[sel], kg.tails[sel]
    out = np.concatenate([tails[heads == i], heads[tails == i]])
    return set(kg.entity_ids[out].tolist())


def name_of(kg, entity_id: str) -> str:
    return kg.names[kg.indices_of([entity_id])[0]]


def linked_pairs(dataset) -> set[tuple[str, str]]:
    links = dataset.links
    return set(zip(dataset.left.entity_ids[links.left].tolist(), dataset.right.entity_ids[links.right].tolist()))


def assert_same_dataset(a, b) -> None:
    for side in ("left", "right"):
        ka, kb = getattr(a, side), getattr(b, side)
        assert ka.type_names == kb.type_names and ka.relation_names == kb.relation_names
        for field in ("entity_ids", "entity_types", "names", "heads", "relations", "tails"):
            np.testing.assert_array_equal(getattr(ka, field), getattr(kb, field), err_msg=f"{side}.{field}")
        pd.testing.assert_frame_equal(ka.attributes, kb.attributes, check_dtype=False)
    assert a.schema == b.schema
    for field in ("left", "right", "type", "label", "split"):
        np.testing.assert_array_equal(getattr(a.links, field), getattr(b.links, field), err_msg=f"links.{field}")


# -------------------------------------------------------------------------- determinism ----
def test_same_seed_same_dataset(movies, music):
    assert_same_dataset(movies.dataset, generate_movie_pair(SCALE, seed=0).dataset)
    assert movies.planted == generate_movie_pair(SCALE, seed=0).planted
    assert_same_dataset(music.dataset, generate_music_pair(SCALE, seed=0).dataset)
    assert music.planted == generate_music_pair(SCALE, seed=0).planted


def test_different_seed_differs(movies, music):
    other = generate_movie_pair(SCALE, seed=1).dataset
    assert set(other.left.names) != set(movies.dataset.left.names)
    other = generate_music_pair(SCALE, seed=1).dataset
    assert set(other.left.names) != set(music.dataset.left.names)


def test_written_files_are_byte_identical(written, tmp_path):
    again = write_demo(tmp_path, scale=SCALE, seed=0)
    for key, path in written.items():
        files = sorted(p.relative_to(path) for p in path.rglob("*") if p.is_file())
        assert {"schema.json", "links.tsv", "planted.json"} <= {str(f) for f in files}
        for f in files:
            assert (path / f).read_bytes() == (again[key] / f).read_bytes(), f"{key}/{f} differs"


def test_written_files_differ_with_seed(written, tmp_path):
    other = write_demo(tmp_path, scale=SCALE, seed=1)
    assert (written["movies"] / "left" / "entities.tsv").read_bytes() != \
        (other["movies"] / "left" / "entities.tsv").read_bytes()


# ------------------------------------------------------------------------------ format ----
def test_written_projects_load_back_equal(written, movies, music):
    assert set(written) == {"movies", "music"}
    assert_same_dataset(load_project(written["movies"]), movies.dataset)
    assert_same_dataset(load_project(written["music"]), music.dataset)


def test_schema_names_differ_per_side(pair):
    schema = pair.dataset.schema
    assert any(c.left != c.right for c in schema.types)
    assert all(c.left != c.right for c in schema.relations)
    assert len(schema.relations) == len(pair.dataset.left.relation_names)
    assert set(c.left for c in schema.attributes) == set(pair.dataset.left.attributes.columns)
    assert set(c.right for c in schema.attributes) == set(pair.dataset.right.attributes.columns)


def test_ids_do_not_leak_the_truth(pair):
    d = pair.dataset
    assert all(i.startswith("L:") for i in d.left.entity_ids)
    assert all(i.startswith("R:") for i in d.right.entity_ids)
    assert len(set(d.right.entity_ids)) == d.right.n_entities
    # Right rows are shuffled: a link's right row says nothing about its left row.
    corr = np.corrcoef(d.links.left, d.links.right)[0, 1]
    assert abs(corr) < 0.1
    left_numbers = {i.rsplit(":", 1)[1] for i in d.left.entity_ids}
    assert not any(i.rsplit(":", 1)[1] in left_numbers for i in d.right.entity_ids[:200])


# --------------------------------------------------------------------------- truth ----
def test_every_type_has_positives_in_every_split(pair):
    counts = pair.dataset.links.counts(pair.dataset.schema.type_names)
    for split in ("train", "valid", "test"):
        assert set(counts[split]) == set(pair.dataset.schema.type_names), split
    assert not pair.dataset.links.has_negatives()
    assert "unused" not in counts


def test_split_shares_about_60_20_20(pair):
    shares = np.bincount(pair.dataset.links.split, minlength=3)[:3] / len(pair.dataset.links)
    np.testing.assert_allclose(shares, [0.6, 0.2, 0.2], atol=0.03)


def test_links_are_one_to_one_and_cover_every_shared_entity(pair):
    d = pair.dataset
    assert len(np.unique(d.links.left)) == len(d.links) and len(np.unique(d.links.right)) == len(d.links)
    for t in range(len(d.schema.types)):
        lt = d.left.type_code(d.schema.types[t].left)
        rt = d.right.type_code(d.schema.types[t].right)
        sel = d.links.type == t
        assert (d.left.entity_types[d.links.left[sel]] == lt).all()
        assert (d.right.entity_types[d.links.right[sel]] == rt).all()
    # Every entity is either linked or listed as one-sided: the truth is complete.
    linked_left = set(d.left.entity_ids[d.links.left].tolist())
    linked_right = set(d.right.entity_ids[d.links.right].tolist())
    assert linked_left | set(pair.planted.left_only_ids) == set(d.left.entity_ids.tolist())
    assert linked_right | set(pair.planted.right_only_ids) == set(d.right.entity_ids.tolist())


def test_split_codes_fill_small_types():
    codes = split_codes(3, np.random.default_rng(0))
    assert sorted(codes.tolist()) == [Split.TRAIN.code, Split.VALID.code, Split.TEST.code]


# ------------------------------------------------------------------------ hard cases ----
def test_name_variants_differ_but_are_linked(pair):
    d, planted = pair.dataset, pair.planted
    linked = linked_pairs(d)
    assert planted.name_variant_pairs
    for left_id, right_id in planted.name_variant_pairs:
        assert (left_id, right_id) in linked
        assert name_of(d.left, left_id) != name_of(d.right, right_id)
    share = len(planted.name_variant_pairs) / len(d.links)
    assert 0.2 < share < 0.4
    # No other link has differing names: the listed variants are all of them.
    differ = d.left.names[d.links.left] != d.right.names[d.links.right]
    assert differ.sum() == len(planted.name_variant_pairs)


def test_dangling_entities_have_no_link(pair):
    d, planted = pair.dataset, pair.planted
    linked_left = set(d.left.entity_ids[d.links.left].tolist())
    linked_right = set(d.right.entity_ids[d.links.right].tolist())
    assert planted.left_only_ids and planted.right_only_ids
    assert not linked_left & set(planted.left_only_ids)
    assert not linked_right & set(planted.right_only_ids)
    assert set(planted.left_only_ids) <= set(d.left.entity_ids.tolist())
    assert set(planted.right_only_ids) <= set(d.right.entity_ids.tolist())
    for side, ids in (("left", planted.left_only_ids), ("right", planted.right_only_ids)):
        kg = getattr(d, side)
        share = len(ids) / kg.n_entities
        assert 0.05 < share < 0.25, (side, share)


def test_lookalike_recordings_share_writers_and_producers_not_performers(music):
    d, groups = music.dataset, music.planted.lookalike_groups
    assert len(groups) >= 0.05 * SCALE
    linked = linked_pairs(d)
    for g in groups:
        assert len(set(g.left_ids)) == 2 and len(set(g.right_ids)) == 2
        assert set(g.matches) <= linked and len(g.matches) == 2
        for kg, ids, rels in ((d.left, g.left_ids, ("written_by", "produced_by", "performed_by")),
                              (d.right, g.right_ids, ("composer", "producer", "artist_credit"))):
            writers = [neighbours(kg, i, rels[0]) for i in ids]
            producers = [neighbours(kg, i, rels[1]) for i in ids]
            performers = [neighbours(kg, i, rels[2]) for i in ids]
            assert writers[0] == writers[1] and writers[0]
            assert producers[0] == producers[1] and producers[0]
            assert performers[0] and performers[1] and not performers[0] & performers[1]
        titles = [name_of(d.left, i) for i in g.left_ids]
        assert titles[1].startswith(titles[0])  # the same title, or a remix of it


def test_namesakes_have_one_name_different_ids_and_different_works(pair):
    d, groups = pair.dataset, pair.planted.same_name_people
    assert groups
    linked = linked_pairs(d)
    work_relations = {"movies": (("directed_by", "written_by", "produced_by", "acted_in"),
                                 ("director", "writer", "producer", "starring_in")),
                      "music": (("performed_by", "written_by", "produced_by", "album_by"),
                                ("artist_credit", "composer", "producer", "release_artist"))}[d.name]
    for g in groups:
        assert len(set(g.left_ids)) == 2 and len(set(g.right_ids)) == 2
        assert set(g.matches) <= linked
        for kg, ids, rels in ((d.left, g.left_ids, work_relations[0]), (d.right, g.right_ids, work_relations[1])):
            assert {name_of(kg, i) for i in ids} == {g.name}
            works = [set().union(*(neighbours(kg, i, r) for r in rels if r in kg.relation_names)) for i in ids]
            assert works[0] and works[1] and not works[0] & works[1]
    # Apart from planted namesakes (and a rare accidental one), people have distinct names.
    people = d.left.entities_of_type("person" if d.name == "movies" else "artist")
    repeated = pd.Series(d.left.names[people]).duplicated().sum()
    assert repeated <= len(groups) + 0.005 * len(people)


# ------------------------------------------------------------------------- structure ----
def test_movie_world_credits_are_realistic():
    world, _ = movie_world(400, np.random.default_rng(0))
    edges = world.edges
    n_films = int((world.type_of == 0).sum())

    def per_film(relation: int, film_column: int) -> np.ndarray:
        rows = edges[edges[:, 1] == relation]
        return np.bincount(rows[:, film_column], minlength=n_films)

    assert (per_film(0, 0) == 1).all()  # one director
    assert per_film(1, 0).min() >= 1 and per_film(1, 0).max() <= 3  # 1-3 writers
    assert per_film(2, 0).max() <= 3  # 0-3 producers
    cast = per_film(3, 2)
    assert cast.min() >= 3 and cast.max() <= 40 and np.median(cast) < cast.mean()  # heavy tail
    genres = per_film(4, 0)
    assert genres.min() >= 1 and genres.max() <= 3
    characters = edges[edges[:, 1] == 6]
    assert len(np.unique(characters[:, 0])) == len(characters)  # one film per character


def test_left_movie_characters_belong_to_their_actors_film(movies):
    kg = movies.dataset.left
    rel = {name: kg.relation_names.index(name) for name in kg.relation_names}
    film_of = {}
    sel = kg.relations == rel["character_in"]
    for c, f in zip(kg.heads[sel], kg.tails[sel]):
        film_of[c] = f
    films_of_actor = defaultdict(set)
    sel = kg.relations == rel["acted_in"]
    for a, f in zip(kg.heads[sel], kg.tails[sel]):
        films_of_actor[a].add(f)
    sel = kg.relations == rel["plays_character"]
    for a, c in list(zip(kg.heads[sel], kg.tails[sel]))[:500]:
        assert film_of[c] in films_of_actor[a]


def test_right_side_drops_about_10_percent_of_edges_and_adds_a_few(pair):
    """Among entities both sides know, ~10 % of left edges are missing on the right, and ~2 %
    of right edges are wrong (absent on the left)."""
    d = pair.dataset
    to_right = np.full(d.left.n_entities, -1)
    to_right[d.links.left] = d.links.right
    relation_map = {c.left: d.right.relation_names.index(c.right) for c in d.schema.relations}
    left_rel = np.array([relation_map[r] for r in d.left.relation_names])[d.left.relations]
    shared = (to_right[d.left.heads] >= 0) & (to_right[d.left.tails] >= 0)
    left_keys = set(zip(to_right[d.left.heads[shared]].tolist(), left_rel[shared].tolist(),
                        to_right[d.left.tails[shared]].tolist()))
    linked_right = np.zeros(d.right.n_entities, bool)
    linked_right[d.links.right] = True
    both = linked_right[d.right.heads] & linked_right[d.right.tails]
    right_keys = set(zip(d.right.heads[both].tolist(), d.right.relations[both].tolist(),
                         d.right.tails[both].tolist()))
    kept = len(left_keys & right_keys) / len(left_keys)
    extra = len(right_keys - left_keys) / len(right_keys)
    assert 0.86 < kept < 0.95, kept
    assert 0.005 < extra < 0.05, extra


def test_scale_is_roughly_linear():
    small = generate_movie_pair(150, seed=3).dataset.left.n_entities
    large = generate_movie_pair(600, seed=3).dataset.left.n_entities
    assert 3.3 < large / small < 4.7
    small = generate_music_pair(150, seed=3).dataset.left.n_entities
    large = generate_music_pair(600, seed=3).dataset.left.n_entities
    assert 3.3 < large / small < 4.7


def test_too_small_scale_is_refused():
    with pytest.raises(ValueError, match="n_films must be at least"):
        generate_movie_pair(5)
    with pytest.raises(ValueError, match="n_songs must be at least"):
        generate_music_pair(5)


# ----------------------------------------------------------------------------- names ----
@pytest.mark.parametrize("name, kinds, start, u, extra, expected", [
    ("Aditya Raj Kapoor", demo_names.PERSON_VARIANTS, 0, 0.99, "", "Aditya Raj"),
    ("Aditya Raj", demo_names.PERSON_VARIANTS, 2, 0.9, "Kapoor", "Aditya Raj Kapoor"),
    ("Aditya Raj Kapoor", ("initials",), 0, 0.0, "", "A. Raj Kapoor"),
    ("José Núñez", ("accents",), 0, 0.0, "", "Jose Nunez"),
    ("The Silent River", ("article",), 0, 0.1, "", "Silent River, The"),
    ("Silent River, The", ("article",), 0, 0.1, "", "The Silent River"),
    ("Storm: Part Two", ("subtitle",), 0, 0.0, "", "Storm"),
    ("Hold Me Closer", ("featuring",), 0, 0.0, "Mara Voss", "Hold Me Closer (feat. Mara Voss)"),
    ("Velvet Engines", ("album_suffix",), 0, 0.0, "", "Velvet Engines [Explicit]"),
    ("Action & Adventure", ("ampersand",), 0, 0.0, "", "Action and Adventure"),
    ("Hold Me Closer", ("case",), 0, 0.9, "", "HOLD ME CLOSER"),
])
def test_variant_examples(name, kinds, start, u, extra, expected):
    assert demo_names.variant_of(name, kinds, start, u, extra) == expected


def test_variants_always_differ_and_are_seeded():
    rng = np.random.default_rng(0)
    names = np.concatenate([demo_names.person_names(rng, 300), demo_names.film_titles(rng, 300),
                            demo_names.song_titles(rng, 300), np.array(["A", "Bo", "Ida"], dtype=object)])
    for kinds in (demo_names.PERSON_VARIANTS, demo_names.FILM_VARIANTS, demo_names.SONG_VARIANTS,
                  demo_names.ALBUM_VARIANTS, demo_names.CHARACTER_VARIANTS, demo_names.GENRE_VARIANTS):
        out = demo_names.make_variants(names, kinds, np.random.default_rng(1))
        assert (out != names).all()
        assert all(v == " ".join(v.split()) and "\t" not in v for v in out)
        again = demo_names.make_variants(names, kinds, np.random.default_rng(1))
        assert (out == again).all()


def test_typo_changes_one_character():
    for u in np.linspace(0, 0.999, 50):
        out = demo_names.typo("Lindqvist", float(u))
        assert out != "Lindqvist" and abs(len(out) - len("Lindqvist")) <= 1
        assert out[0] == "L" and out[-1] == "t"


def test_genre_names_are_distinct_and_bounded():
    names = demo_names.genre_names(np.random.default_rng(0), 500)
    assert len(set(names)) == 500
    with pytest.raises(ValueError, match="distinct genre names"):
        demo_names.genre_names(np.random.default_rng(0), 10**6)
