"""The music demo pair: a store-like left KG and an encyclopedia-like right KG of the same songs.

It mirrors the paper's Music dataset (Amazon Music vs Wikipedia, 1.8M nodes) in shape: three
aligned types (left song/artist/album, right recording/performer/release) and credits as
relations with different names per side (``performed_by``/``artist_credit``). See
:mod:`core.demo.pairs` for how a pair is made and which hard cases it plants.

Structure, drawn in bulk with NumPy:

- albums belong to one artist; songs are spread over albums with log-normal weights (singles,
  EPs and long LPs), and a song's performer is its album's artist;
- 10 % of songs add a featured performer (the "(feat. Y)" of store titles);
- 1-3 writers (35 % of songs: the performer writes too), 0-2 producers;
- **look-alikes**: ~10 % of songs (those with a producer) get a twin: a cover (same title) or a
  remix (title plus " (Remix)", " - Live", ...) with exactly the same writers and producers but
  another performer, on an album of that performer. Shared writers and producers make the twins
  close in the graph; only the performer separates them, which is what CG-MuAlign's
  relation-aware self-attention is meant to learn. Both twins exist on both sides, each with its
  own true match, and their edges are never dropped or rewired.

Attributes: song duration in seconds (number), release date of songs and albums (date).
"""

from __future__ import annotations

import numpy as np

from core.demo import names as demo_names
from core.demo.pairs import (
    DemoPair, RolePools, World, assemble, edge_rows, observe_dates, observe_numbers, planted_cases,
    plant_namesakes, popularity, split_sides, stage_rng, unique_pairs, variant_mask, years_to_days,
)
from core.data.schema import Correspondence

SONG, ARTIST, ALBUM = range(3)

MUSIC_TYPES = (
    Correspondence("song", "song", "recording"),
    Correspondence("artist", "artist", "performer"),
    Correspondence("album", "album", "release"),
)

PERFORMED_BY, WRITTEN_BY, PRODUCED_BY, TRACK_ON, ALBUM_BY = range(5)

MUSIC_RELATIONS = (
    Correspondence("performed_by", "performed_by", "artist_credit"),  # song -> artist
    Correspondence("written_by", "written_by", "composer"),  # song -> artist
    Correspondence("produced_by", "produced_by", "producer"),  # song -> artist
    Correspondence("track_on", "track_on", "appears_on"),  # song -> album
    Correspondence("album_by", "album_by", "release_artist"),  # album -> artist
)

MUSIC_ATTRIBUTES = (
    Correspondence("duration", "duration", "length"),
    Correspondence("release_date", "release_date", "released"),
)

#: Per-type chance of being drawn one-sided (per side); artists also become one-sided when all
#: their songs are, so their own draw is smaller. Each type lands near 10-15 % per side.
DANGLING_SHARE = {SONG: 0.12, ARTIST: 0.12, ALBUM: 0.12}

_VARIANT_KINDS = {SONG: demo_names.SONG_VARIANTS, ARTIST: demo_names.ARTIST_VARIANTS,
                  ALBUM: demo_names.ALBUM_VARIANTS}

_DOMAIN = "music"


def generate_music_pair(n_songs: int = 300, *, seed: int = 0, variant_share: float = 0.3,
                        lookalike_share: float = 0.1, edge_drop: float = 0.1, noise_share: float = 0.02,
                        namesake_share: float = 0.03) -> DemoPair:
    """Generate the music demo pair.

    Parameters
    ----------
    n_songs : original songs in the world; ``lookalike_share * n_songs`` twins come on top.
        Entities per side are about 1.6 * ``n_songs`` (300 -> ~480; 63,000 -> ~100,000;
        850,000 -> ~1.35M).
    seed : same seed, identical dataset and files; different seeds differ.
    variant_share : share of true matches whose right name is a variant.
    lookalike_share : share of songs that get a cover/remix twin.
    edge_drop : share of right edges dropped (the right KG is less complete).
    noise_share : wrong edges added on the right, as a share of its edges.
    namesake_share : share of artists (known to both sides) given another artist's name.

    Returns
    -------
    DemoPair
        ``dataset`` (left song/artist/album, right recording/performer/release) and ``planted``
        (name variants, one-sided entities, look-alike groups, namesakes).

    Raises
    ------
    ValueError
        If ``n_songs`` < 20 (too few to split every type into train/valid/test).
    """
    if n_songs < 20:
        raise ValueError(f"n_songs must be at least 20 (to fill train/valid/test of every type), got {n_songs}")
    world, facts = music_world(n_songs, lookalike_share, stage_rng(seed, _DOMAIN, "structure"))
    twins = facts["twins"]  # (k, 2) world indices: original, twin
    protected = np.zeros(world.n_entities, bool)
    protected[twins.ravel()] = True
    forced_both = protected.copy()
    credits = protected[world.edges[:, 0]] & (world.type_of[world.edges[:, 2]] == ARTIST)
    forced_both[world.edges[credits, 2]] = True  # the twins' performers, writers and producers
    sides = split_sides(world, stage_rng(seed, _DOMAIN, "sides"),
                        dangling_share=[DANGLING_SHARE[t] for t in range(len(MUSIC_TYPES))],
                        forced_both=forced_both, protected=protected, edge_drop=edge_drop,
                        noise_share=noise_share)
    artists = np.flatnonzero((world.type_of == ARTIST) & sides.both & ~forced_both)
    namesakes = plant_namesakes(sides, artists, namesake_share, stage_rng(seed, _DOMAIN, "namesakes"),
                                work_relations=(PERFORMED_BY, WRITTEN_BY, PRODUCED_BY, ALBUM_BY))

    names = music_names(world, facts, stage_rng(seed, _DOMAIN, "names"))
    names[namesakes[:, 1]] = names[namesakes[:, 0]]
    variant = variant_mask(sides, namesakes, variant_share, stage_rng(seed, _DOMAIN, "variant-mask"))
    right_names = right_variants(world, names, facts, variant, stage_rng(seed, _DOMAIN, "variants"))
    left_attributes, right_attributes = music_attributes(facts, stage_rng(seed, _DOMAIN, "attributes"))

    assembled = assemble(world, sides, stage_rng(seed, _DOMAIN, "assemble"), name="music",
                         left_names=names, right_names=right_names, left_attributes=left_attributes,
                         right_attributes=right_attributes, attributes=MUSIC_ATTRIBUTES)
    planted = planted_cases(world, sides, assembled, variant=variant, names=names, lookalikes=twins,
                            namesakes=namesakes)
    return DemoPair(assembled.dataset, planted)


# ------------------------------------------------------------------------------ structure ----
def music_world(n_songs: int, lookalike_share: float, rng: np.random.Generator) -> tuple[World, dict[str, np.ndarray]]:
    """The true music graph and the facts names and attributes are drawn from.

    Returns
    -------
    world : World with entities laid out as [songs (originals, then twins) | artists | albums].
    facts : "twins" (k, 2) world indices (original, twin); "twin_is_remix" (k,) bool;
        "featured" (n,) world index of a song's featured artist (-1: none); "album_artist" (n,)
        world index of an album's artist (-1 elsewhere); "duration", "release_days" (n,) floats.
    """
    pools = RolePools.make(_pool_sizes(n_songs), rng)
    n_album_pool = n_songs // 6 + 3
    album_artist = pools.draw(rng, "performer", n_album_pool)
    song_album = rng.choice(n_album_pool, size=n_songs, p=popularity(rng, n_album_pool, sigma=0.8))
    song_ids = np.arange(n_songs)
    performer = album_artist[song_album]

    featured = np.where(rng.random(n_songs) < 0.1, pools.draw(rng, "performer", n_songs), -1)
    featured[featured == performer] = -1
    writer_song, writer = pools.credits(rng, "writer", song_ids, [0.0, 0.45, 0.35, 0.2])
    first_writer = np.searchsorted(writer_song, song_ids)
    writes_too = rng.random(n_songs) < 0.35  # the singer-songwriter
    writer[first_writer[writes_too]] = performer[writes_too]
    writer_song, writer = unique_pairs(writer_song, writer)
    producer_song, producer = pools.credits(rng, "producer", song_ids, [0.3, 0.45, 0.25])

    original, twin_album = _pick_twins(rng, n_songs, lookalike_share, producer_song, performer, featured,
                                       album_artist)
    n_twins = len(original)
    twin = n_songs + np.arange(n_twins)
    twin_of = np.full(n_songs, -1, dtype=np.int64)
    twin_of[original] = twin
    writer_song, writer = _copy_credits(twin_of, writer_song, writer)
    producer_song, producer = _copy_credits(twin_of, producer_song, producer)
    song_album = np.concatenate([song_album, twin_album])
    performer = np.concatenate([performer, album_artist[twin_album]])
    featured = np.concatenate([featured, np.full(n_twins, -1)])
    n_all = n_songs + n_twins
    all_songs = np.arange(n_all)

    # Keep only the albums and artists something refers to; renumber them densely.
    albums, album_index = np.unique(song_album, return_inverse=True)
    has_feat = featured >= 0
    artist_refs = [performer, featured[has_feat], writer, producer, album_artist[albums]]
    artists, artist_index = np.unique(np.concatenate(artist_refs), return_inverse=True)
    cuts = np.cumsum([len(a) for a in artist_refs[:-1]])
    performer, feat, writer, producer, album_owner = np.split(artist_index, cuts)
    n_artists, n_albums = len(artists), len(albums)
    artist0, album0 = n_all, n_all + n_artists
    n = album0 + n_albums
    type_of = np.repeat(np.array([SONG, ARTIST, ALBUM], dtype=np.int8), [n_all, n_artists, n_albums])
    edges = np.concatenate([
        edge_rows(all_songs, PERFORMED_BY, artist0 + performer),
        edge_rows(all_songs[has_feat], PERFORMED_BY, artist0 + feat),
        edge_rows(writer_song, WRITTEN_BY, artist0 + writer),
        edge_rows(producer_song, PRODUCED_BY, artist0 + producer),
        edge_rows(all_songs, TRACK_ON, album0 + album_index),
        edge_rows(album0 + np.arange(n_albums), ALBUM_BY, artist0 + album_owner),
    ])
    world = World(MUSIC_TYPES, MUSIC_RELATIONS, type_of, edges)

    remix = rng.random(n_twins) < 0.5
    facts = _song_facts(rng, n, n_songs, original, twin, remix, album0, album_index)
    facts["twins"] = np.column_stack([original, twin]).astype(np.int64)
    facts["twin_is_remix"] = remix
    facts["featured"] = np.full(n, -1, dtype=np.int64)
    facts["featured"][all_songs[has_feat]] = artist0 + feat
    facts["album_artist"] = np.full(n, -1, dtype=np.int64)
    facts["album_artist"][album0 + np.arange(n_albums)] = artist0 + album_owner
    return world, facts


def _pool_sizes(n_songs: int) -> dict[str, int]:
    """Candidate pool size per role; the ratio to the number of credits sets how often artists recur."""
    return {"performer": int(0.25 * n_songs) + 5, "writer": int(0.3 * n_songs) + 5,
            "producer": int(0.12 * n_songs) + 5}


def _pick_twins(rng, n_songs: int, share: float, producer_song: np.ndarray, performer: np.ndarray,
                featured: np.ndarray, album_artist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Originals that get a twin, and the album (of another performer) each twin goes on.

    Originals have at least one producer, so "same writers and producers" is a real shared
    neighbourhood. A twin's album is re-drawn while its artist performs on the original; twins
    still conflicting after a few tries are not planted.
    """
    produced = np.unique(producer_song)
    k = min(int(round(share * n_songs)), len(produced))
    original = np.sort(rng.choice(produced, size=k, replace=False))
    album = rng.integers(0, len(album_artist), size=k)
    for _ in range(8):
        clash = (album_artist[album] == performer[original]) | (album_artist[album] == featured[original])
        if not clash.any():
            break
        album[clash] = rng.integers(0, len(album_artist), size=int(clash.sum()))
    ok = (album_artist[album] != performer[original]) & (album_artist[album] != featured[original])
    return original[ok], album[ok]


def _copy_credits(twin_of: np.ndarray, song: np.ndarray, artist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(song, artist) credits plus, for every original with a twin, the same credits on the twin."""
    copied = twin_of[song] >= 0
    return np.concatenate([song, twin_of[song[copied]]]), np.concatenate([artist, artist[copied]])


def _song_facts(rng, n: int, n_songs: int, original: np.ndarray, twin: np.ndarray, remix: np.ndarray,
                album0: int, album_index: np.ndarray) -> dict[str, np.ndarray]:
    """Durations (seconds) and release days of songs and albums.

    A song is released with its album, or up to 90 days before it (a single). A cover lasts about
    as long as its original; a remix runs 20-80 % longer.
    """
    n_all, n_albums = n_songs + len(twin), int(album_index.max()) + 1
    album_year = np.clip(2024 - np.floor(rng.exponential(15.0, size=n_albums)), 1955, 2024)
    album_days = years_to_days(album_year, rng.integers(0, 365, size=n_albums))
    single = rng.random(n_all) < 0.2
    song_days = album_days[album_index] - np.where(single, rng.integers(1, 91, size=n_all), 0)
    duration = np.clip(np.round(rng.lognormal(np.log(225.0), 0.25, size=n_all)), 60, 900)
    stretch = np.where(remix, rng.uniform(1.2, 1.8, len(twin)), rng.uniform(0.9, 1.1, len(twin)))
    duration[twin] = np.round(duration[original] * stretch)

    duration_all = np.full(n, np.nan)
    duration_all[:n_all] = duration
    days_all = np.full(n, np.nan)
    days_all[:n_all] = song_days
    days_all[album0:album0 + n_albums] = album_days
    return {"duration": duration_all, "release_days": days_all}


# ---------------------------------------------------------------------------------- names ----
def music_names(world: World, facts: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Left (canonical) names of every world entity.

    Twins are named after their original: covers keep the title, remixes add a suffix. About 5 %
    of albums are self-titled (named after their artist), as debut albums often are.
    """
    names = np.empty(world.n_entities, dtype=object)
    songs = np.flatnonzero(world.type_of == SONG)
    artists = np.flatnonzero(world.type_of == ARTIST)
    albums = np.flatnonzero(world.type_of == ALBUM)
    names[songs] = demo_names.unique_names(demo_names.song_titles, rng, len(songs))
    names[artists] = demo_names.unique_names(_artist_names, rng, len(artists))
    names[albums] = demo_names.unique_names(demo_names.album_titles, rng, len(albums))
    self_titled = albums[rng.random(len(albums)) < 0.05]
    names[self_titled] = names[facts["album_artist"][self_titled]]

    original, twin = facts["twins"][:, 0], facts["twins"][:, 1]
    suffix = demo_names.REMIX_SUFFIXES[rng.integers(0, len(demo_names.REMIX_SUFFIXES), size=len(twin))]
    names[twin] = np.where(facts["twin_is_remix"], names[original] + suffix, names[original])
    return names


def _artist_names(rng: np.random.Generator, k: int) -> np.ndarray:
    """Artist names: a quarter are bands ("The Velvet Foxes"), the rest people."""
    return np.where(rng.random(k) < 0.25, demo_names.band_names(rng, k), demo_names.person_names(rng, k))


def right_variants(world: World, names: np.ndarray, facts: dict[str, np.ndarray], variant: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """Right names: the left name, or a variant where ``variant`` is set. A song with a featured
    artist may get "(feat. Y)" with Y's left name; an artist may gain a family name."""
    right = names.copy()
    for t, kinds in _VARIANT_KINDS.items():
        rows = np.flatnonzero(variant & (world.type_of == t))
        if t == SONG:
            feat = facts["featured"][rows]
            extra = np.where(feat >= 0, names[np.maximum(feat, 0)], "").astype(object)
        elif t == ARTIST:
            extra = demo_names.family_names(rng, len(rows))
        else:
            extra = None
        right[rows] = demo_names.make_variants(names[rows], kinds, rng, extra)
    return right


# ----------------------------------------------------------------------------- attributes ----
def music_attributes(facts: dict[str, np.ndarray], rng: np.random.Generator) -> tuple[dict, dict]:
    """(left, right) attribute columns over world entities.

    The store (left) knows most durations and dates; the encyclopedia (right) misses more,
    rounds durations differently (+-1-2 s) and often knows only the year of a release.
    """
    left = {
        "duration": observe_numbers(facts["duration"], 0.95, rng),
        "release_date": observe_dates(facts["release_days"], 0.85, rng),
    }
    right = {
        "length": observe_numbers(facts["duration"], 0.85, rng, jitter_share=0.3, max_jitter=2),
        "released": observe_dates(facts["release_days"], 0.7, rng, jitter_share=0.05, max_jitter_days=7,
                                  year_only_share=0.15),
    }
    return left, right
