"""The movie demo pair: an IMDB-like left KG and a Freebase-like right KG of the same films.

It mirrors the paper's Movie dataset (IMDB vs Freebase, 2.7M nodes) in shape, not in content:
four aligned types (film, person, genre, character), credits as typed relations, and a right
side that names its types and relations differently (``film``/``movie``, ``directed_by``/
``director``), so the schema mapping matters. All hard cases are planted and listed in
:class:`~core.demo.pairs.PlantedCases`; see :mod:`core.demo.pairs` for how a pair is made.

Structure per film, drawn in bulk with NumPy (no per-edge Python):

- 1 director, 1-3 writers (30 % of films: the director writes too), 0-3 producers;
- a cast of 3-40 actors, log-normal (median 7), because casts are heavy-tailed;
- one character per cast member, linked to the actor and to the film;
- 1-3 genres, drawn Zipf-like (Drama is everywhere, "Mumblecore Heist" is rare).

People are drawn from role pools with log-normal popularity, so a few people have many credits
and most have one; people never drawn are not generated. A film therefore brings about 12
entities (itself, ~8 characters, ~3.5 people), and ``n_films`` scales the pair linearly.

Attributes: film year (number), release date (date), runtime in minutes (number); person date
of birth (date), known for 60 % of people on the left and 40 % on the right (often missing on one
side, as in the paper's data), with a little jitter on the right.
"""

from __future__ import annotations

import numpy as np

from core.demo import names as demo_names
from core.demo.pairs import (
    DemoPair, RolePools, World, assemble, draw_distinct, edge_rows, observe_dates, observe_numbers,
    planted_cases, plant_namesakes, split_sides, stage_rng, variant_mask, years_to_days,
)
from core.data.schema import Correspondence

FILM, PERSON, GENRE, CHARACTER = range(4)

MOVIE_TYPES = (
    Correspondence("film", "film", "movie"),
    Correspondence("person", "person", "person"),
    Correspondence("genre", "genre", "genre"),
    Correspondence("character", "character", "role"),
)

DIRECTED_BY, WRITTEN_BY, PRODUCED_BY, ACTED_IN, HAS_GENRE, PLAYS_CHARACTER, CHARACTER_IN = range(7)

#: Same direction on both sides (the model shares one relation id per correspondence), different names.
MOVIE_RELATIONS = (
    Correspondence("directed_by", "directed_by", "director"),  # film -> person
    Correspondence("written_by", "written_by", "writer"),  # film -> person
    Correspondence("produced_by", "produced_by", "producer"),  # film -> person
    Correspondence("acted_in", "acted_in", "starring_in"),  # person -> film
    Correspondence("has_genre", "has_genre", "genres"),  # film -> genre
    Correspondence("plays_character", "plays_character", "portrays"),  # person -> character
    Correspondence("character_in", "character_in", "appears_in"),  # character -> film
)

MOVIE_ATTRIBUTES = (
    Correspondence("year", "year", "year"),
    Correspondence("release_date", "release_date", "initial_release"),
    Correspondence("runtime", "runtime", "runtime_min"),
    Correspondence("born", "born", "date_of_birth"),
)

#: Per-type chance of being drawn one-sided (per side). People and characters also become
#: one-sided when all their films are, so their own draw is smaller; together each type lands
#: at roughly 10-15 % one-sided entities per side.
DANGLING_SHARE = {FILM: 0.12, PERSON: 0.05, GENRE: 0.1, CHARACTER: 0.01}

_VARIANT_KINDS = {FILM: demo_names.FILM_VARIANTS, PERSON: demo_names.PERSON_VARIANTS,
                  GENRE: demo_names.GENRE_VARIANTS, CHARACTER: demo_names.CHARACTER_VARIANTS}

_DOMAIN = "movies"


def generate_movie_pair(n_films: int = 300, *, seed: int = 0, variant_share: float = 0.3,
                        edge_drop: float = 0.1, noise_share: float = 0.02,
                        namesake_share: float = 0.03) -> DemoPair:
    """Generate the movie demo pair.

    Parameters
    ----------
    n_films : films in the world (before either side loses some); entities per side are about
        11.6 * ``n_films`` (300 -> ~3,500; 8,700 -> ~100,000; 117,000 -> ~1.36M, i.e. the paper's
        2.7M nodes over both sides).
    seed : same seed, identical dataset and files; different seeds differ.
    variant_share : share of true matches whose right name is a variant (:mod:`core.demo.names`).
    edge_drop : share of right edges dropped (the right KG is less complete).
    noise_share : wrong edges added on the right, as a share of its edges.
    namesake_share : share of people (known to both sides) given another person's name.

    Returns
    -------
    DemoPair
        ``dataset`` (left types film/person/genre/character, right movie/person/genre/role) and
        ``planted`` (name variants, one-sided entities, namesakes; no look-alike groups).

    Raises
    ------
    ValueError
        If ``n_films`` < 10 (too few to split every type into train/valid/test).
    """
    if n_films < 10:
        raise ValueError(f"n_films must be at least 10 (to fill train/valid/test of every type), got {n_films}")
    world, facts = movie_world(n_films, stage_rng(seed, _DOMAIN, "structure"))
    character_film = np.full(world.n_entities, -1, dtype=np.int64)
    character_film[facts["character_ids"]] = facts["character_film"]
    sides = split_sides(world, stage_rng(seed, _DOMAIN, "sides"),
                        dangling_share=[DANGLING_SHARE[t] for t in range(len(MOVIE_TYPES))],
                        anchor=character_film, edge_drop=edge_drop, noise_share=noise_share)
    people = np.flatnonzero((world.type_of == PERSON) & sides.both)
    namesakes = plant_namesakes(sides, people, namesake_share, stage_rng(seed, _DOMAIN, "namesakes"),
                                work_relations=(DIRECTED_BY, WRITTEN_BY, PRODUCED_BY, ACTED_IN))

    names = movie_names(world, stage_rng(seed, _DOMAIN, "names"))
    names[namesakes[:, 1]] = names[namesakes[:, 0]]
    variant = variant_mask(sides, namesakes, variant_share, stage_rng(seed, _DOMAIN, "variant-mask"))
    right_names = right_variants(world, names, variant, stage_rng(seed, _DOMAIN, "variants"))
    left_attributes, right_attributes = movie_attributes(facts, stage_rng(seed, _DOMAIN, "attributes"))

    assembled = assemble(world, sides, stage_rng(seed, _DOMAIN, "assemble"), name="movies",
                         left_names=names, right_names=right_names, left_attributes=left_attributes,
                         right_attributes=right_attributes, attributes=MOVIE_ATTRIBUTES)
    planted = planted_cases(world, sides, assembled, variant=variant, names=names, namesakes=namesakes)
    return DemoPair(assembled.dataset, planted)


# ------------------------------------------------------------------------------ structure ----
def movie_world(n_films: int, rng: np.random.Generator) -> tuple[World, dict[str, np.ndarray]]:
    """The true movie graph and the facts attributes are drawn from.

    Returns
    -------
    world : World with entities laid out as [films | people | genres | characters].
    facts : dict of arrays over world entities ("year", "release_days", "runtime", "born_days",
        NaN where not applicable) plus "character_ids" and "character_film" (world indices).
    """
    film_ids = np.arange(n_films)
    pools = RolePools.make(_pool_sizes(n_films), rng)
    director = pools.draw(rng, "director", n_films)
    writer_film, writer = pools.credits(rng, "writer", film_ids, [0.0, 0.5, 0.35, 0.15])
    first_writer = np.searchsorted(writer_film, film_ids)
    writes_too = rng.random(n_films) < 0.3  # the writer-director: a shared neighbour of two relations
    writer[first_writer[writes_too]] = director[writes_too]
    producer_film, producer = pools.credits(rng, "producer", film_ids, [0.25, 0.35, 0.25, 0.15])
    cast_size = np.clip(np.round(rng.lognormal(np.log(7.0), 0.6, size=n_films)), 3, 40).astype(np.int64)
    cast_film, actor = draw_distinct(rng, np.repeat(film_ids, cast_size), lambda k: pools.draw(rng, "actor", k))

    n_genre_pool = int(np.clip(round(2 * np.sqrt(n_films)), 20, _max_genres()))
    genre_weights = 1.0 / np.arange(1, n_genre_pool + 1)  # Zipf: a few genres everywhere
    genre_count = rng.choice([1, 2, 3], size=n_films, p=[0.35, 0.45, 0.2])
    genre_film, genre = draw_distinct(rng, np.repeat(film_ids, genre_count), lambda k: rng.choice(
        n_genre_pool, size=k, p=genre_weights / genre_weights.sum()))

    # Keep only the people and genres something refers to; renumber them densely.
    people, person_index = np.unique(np.concatenate([director, writer, producer, actor]), return_inverse=True)
    director, writer, producer, actor = np.split(person_index, np.cumsum([len(director), len(writer), len(producer)]))
    genres, genre = np.unique(genre, return_inverse=True)
    n_people, n_genres, n_characters = len(people), len(genres), len(actor)

    person0 = n_films
    genre0 = person0 + n_people
    char0 = genre0 + n_genres
    n = char0 + n_characters
    character = char0 + np.arange(n_characters)
    type_of = np.repeat(np.array([FILM, PERSON, GENRE, CHARACTER], dtype=np.int8),
                        [n_films, n_people, n_genres, n_characters])
    edges = np.concatenate([
        edge_rows(film_ids, DIRECTED_BY, person0 + director),
        edge_rows(writer_film, WRITTEN_BY, person0 + writer),
        edge_rows(producer_film, PRODUCED_BY, person0 + producer),
        edge_rows(person0 + actor, ACTED_IN, cast_film),
        edge_rows(genre_film, HAS_GENRE, genre0 + genre),
        edge_rows(person0 + actor, PLAYS_CHARACTER, character),
        edge_rows(character, CHARACTER_IN, cast_film),
    ])
    world = World(MOVIE_TYPES, MOVIE_RELATIONS, type_of, edges)
    facts = _film_facts(rng, n, n_films, person0, n_people, edges)
    facts["character_ids"] = character
    facts["character_film"] = cast_film
    return world, facts


def _pool_sizes(n_films: int) -> dict[str, int]:
    """Candidate pool size per role; the ratio to the number of credits sets how often people
    recur (directors: 0.5 per film, actors: 3.5 per film for ~8 cast slots)."""
    return {"director": int(0.5 * n_films) + 3, "writer": int(0.8 * n_films) + 3,
            "producer": int(0.6 * n_films) + 3, "actor": int(3.5 * n_films) + 10}


def _max_genres() -> int:
    return len(demo_names.GENRE_BASES) * (1 + len(demo_names.GENRE_MODIFIERS))


def _film_facts(rng, n: int, n_films: int, person0: int, n_people: int, edges: np.ndarray) -> dict[str, np.ndarray]:
    """Film year, release day and runtime; people's birth day from their first film.

    Years skew recent (exponential back from 2024, as catalogues do); a person is born 18-60
    years before their first film.
    """
    year = np.clip(2024 - np.floor(rng.exponential(22.0, size=n_films)), 1915, 2024)
    release = years_to_days(year, rng.integers(0, 365, size=n_films))
    runtime = np.clip(np.round(rng.normal(104.0, 18.0, size=n_films)), 62, 240)

    film_end = np.where(edges[:, 0] < n_films, edges[:, 0], edges[:, 2])
    person_end = np.where(edges[:, 0] < n_films, edges[:, 2], edges[:, 0])
    credit = (film_end < n_films) & (person_end >= person0) & (person_end < person0 + n_people)
    first_year = np.full(n_people, np.inf)
    np.minimum.at(first_year, person_end[credit] - person0, year[film_end[credit]])
    born_year = first_year - rng.integers(18, 61, size=n_people)
    born = years_to_days(born_year, rng.integers(0, 365, size=n_people))

    def full(values: np.ndarray, start: int) -> np.ndarray:
        out = np.full(n, np.nan)
        out[start:start + len(values)] = values
        return out

    return {"year": full(year, 0), "release_days": full(release, 0), "runtime": full(runtime, 0),
            "born_days": full(born, person0)}


# ---------------------------------------------------------------------------------- names ----
def movie_names(world: World, rng: np.random.Generator) -> np.ndarray:
    """Left (canonical) names of every world entity, by type."""
    names = np.empty(world.n_entities, dtype=object)
    makers = {FILM: lambda k: demo_names.unique_names(demo_names.film_titles, rng, k),
              PERSON: lambda k: demo_names.unique_names(demo_names.person_names, rng, k),
              GENRE: lambda k: demo_names.genre_names(rng, k),
              CHARACTER: lambda k: demo_names.character_names(rng, k)}
    for t, make in makers.items():
        rows = np.flatnonzero(world.type_of == t)
        names[rows] = make(len(rows))
    return names


def right_variants(world: World, names: np.ndarray, variant: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Right names: the left name, or a type-appropriate variant where ``variant`` is set."""
    right = names.copy()
    for t, kinds in _VARIANT_KINDS.items():
        rows = np.flatnonzero(variant & (world.type_of == t))
        extra = demo_names.family_names(rng, len(rows)) if t == PERSON else None
        right[rows] = demo_names.make_variants(names[rows], kinds, rng, extra)
    return right


# ----------------------------------------------------------------------------- attributes ----
def movie_attributes(facts: dict[str, np.ndarray], rng: np.random.Generator) -> tuple[dict, dict]:
    """(left, right) attribute columns over world entities.

    The left is the fuller source; the right misses more and is sometimes slightly off: a year
    off by one (release in another country), a date shifted by days or known only to the year,
    a runtime a few minutes off (with or without credits), a birth date often absent.
    """
    left = {
        "year": observe_numbers(facts["year"], 0.95, rng),
        "release_date": observe_dates(facts["release_days"], 0.75, rng),
        "runtime": observe_numbers(facts["runtime"], 0.85, rng),
        "born": observe_dates(facts["born_days"], 0.6, rng),
    }
    right = {
        "year": observe_numbers(facts["year"], 0.9, rng, jitter_share=0.03, max_jitter=1),
        "initial_release": observe_dates(facts["release_days"], 0.6, rng, jitter_share=0.1,
                                         max_jitter_days=30, year_only_share=0.1),
        "runtime_min": observe_numbers(facts["runtime"], 0.75, rng, jitter_share=0.25, max_jitter=4),
        "date_of_birth": observe_dates(facts["born_days"], 0.4, rng, jitter_share=0.02, max_jitter_days=3,
                                       year_only_share=0.05),
    }
    return left, right
