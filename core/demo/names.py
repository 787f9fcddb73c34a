"""Seeded names for the demo knowledge graphs, and the variants another KG would write instead.

Why this module exists: name similarity is the strongest single signal in entity alignment, so a
demo where both sides spell every name identically is solved by string equality and teaches
nothing. Real KG pairs (IMDB vs Freebase, Amazon Music vs Wikipedia, as in the CG-MuAlign paper)
disagree in systematic ways: a middle name present on one side only ("Aditya Raj" vs
"Aditya Raj Kapoor"), initials, accents lost in an ASCII pipeline, typos, "The Matrix" filed as
"Matrix, The", subtitles dropped, "(feat. Y)" in song titles, "[Explicit]" and "(Deluxe)" on
albums. The variant functions below plant exactly these disagreements.

Everything is made up from word and syllable lists written here: no real-person data. Names are
drawn with NumPy (one ``rng`` call per part, for all names at once) and joined with a list
comprehension, which is the lean way to build Python strings in bulk.

Every variant function is pure: ``f(name, u, extra) -> str | None`` where ``u`` in [0, 1) is the
only randomness (drawn in bulk by the caller) and ``extra`` is an optional string (a family name
to add, a featured artist). ``None`` means "does not apply to this name"; :func:`make_variants`
then tries the next kind, ending with :func:`typo`, which always applies, so every variant differs
from its original.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import numpy as np
import pandas as pd

# ------------------------------------------------------------------------------ word lists ----
# Given names: a multicultural list (common first names, not people), some with accents so that
# dropping accents is a real variant, plus syllable-built names for a large name space.
GIVEN = np.array("""
Aditya Amara Anika Arjun Ayesha Beatriz Bruno Camille Carmen Chiara Chen Dalia Dario Deniz Dmitri
Elena Elif Emeka Emil Esther Farah Felix Freya Gabriel Giulia Hana Hassan Idris Ingrid Isak Jamal
Jana Javier Jonas Kaito Kalani Karim Kasia Lars Leila Lena Liam Lucia Luca Maja Malik Mara Marco
Mariam Mateo Mei Mika Nadia Naveen Nia Nikolai Noor Oskar Olu Omar Paloma Pavel Priya Rafael Rania
Ravi Renata Rohan Rosa Ruth Sami Sana Santiago Sara Selin Sergei Shira Sofia Stellan Tariq Tess
Theo Tomas Uma Valeria Vikram Wen Yara Yusuf Zain Zara Adaeze Akira Alma Anton Asha Bianca Caleb
Dana Eitan Ewa Fatima Gideon Greta Hugo Ilse Ivan Jun Kofi Lin Luz Maren Milan Nora Otto Pia Quinn
Rhea Saoirse Tobias Ulla Vera Wiremu Xavier Yosef Zofia Ada Ben Cora Eli Ida Leo Max Ned Ola Sam
José Zoë Renée Inés Björn Chloé Héctor Raúl Andrés Ramón Léa Mónica Józef Ágata Noémie Øystein
""".split(), dtype=object)

_GIVEN_ONSETS = np.array("A Be Ca Da E Fa Ga I Ja Ka La Ma Na O Pa Ra Sa Ta Va Ya Za Ti Lo Mi Ri".split(), dtype=object)
_GIVEN_MIDDLES = np.array("li ri na ro ve mi sa do ke lu".split(), dtype=object)
_GIVEN_ENDS = np.array("a o en el ia on ar is ey an".split(), dtype=object)

FAMILY = np.array("""
Kapoor Raj Novak Okafor Lindqvist Moreau Ferreira Tanaka Hale Voss Adeyemi Baptiste Castellano
Delacroix Eriksen Fontaine Galloway Haddad Ivanova Jablonski Kowalczyk Larsen Mancini Nakamura
Oyelaran Petrov Quintero Rasmussen Salazar Thorne Urquhart Valdez Whitfield Yamamoto Zielinski
Abbott Brennan Carver Dunmore Ellison Farrow Gallagher Hartley Ingram Jessop Kendrick Lowell
Mercer Norwood Oakes Pemberton Radcliffe Sterling Tremaine Underwood Vance Winslow Ashby Blackwood
Chandra Desai Iyer Mehta Nair Rao Sharma Verma Ahn Choi Kang Park Yoon Nguyen Tran Pham Le Huang
Liu Zhao Sato Suzuki Watanabe Kimura Mensah Owusu Diallo Keita Balogun Haas Bauer Keller Brandt
Vogel Roux Girard Lambert Caron Rossi Bruno Greco Conti Marino Silva Costa Santos Moreno Ortega
Navarro Romero Herrera Kovac Horvat Dvorak Nowak Wozniak Berg Dahl Holm Lund Strand Sandoval
Müller Núñez Gómez Jiménez Søndergaard Özdemir Åkesson Périer Señor Lefèvre
""".split(), dtype=object)

_FAMILY_ONSETS = np.array("""
Kar Vel Mor Ash Bren Cal Dor Fen Gal Har Jor Kel Lan Mar Nor Ost Pel Quin Ros Sal Tor Ul Var Wes
Yor Zan Bal Cor Del Esk Gor Hol Iver Kin Lor Mal Nev Or Stan Thal
""".split(), dtype=object)
_FAMILY_CODAS = np.array("""
ovic sson ford berg ani ez etti ski wood ley mann ura oglu enko ard in ton well ham stein ero aki
ides ou ach avan elli ström holt mere quist ridge ayan eski ovich ander ington by dottir ani mond
""".split(), dtype=object)

ADJECTIVES = np.array("""
Silent Broken Hidden Last Golden Crimson Endless Forgotten Wild Burning Frozen Distant Hollow
Secret Savage Quiet Electric Midnight Iron Glass Scarlet Lonely Bitter Sweet Dark Bright Lost
Fallen Rising Sacred Restless Wicked Gentle Violent Eternal Northern Southern Final First Little
Great Empty Shattered Velvet Paper Silver Stolen Borrowed Perfect Strange Neon Blue Black White
Red Green Hungry Sleeping Dancing Falling Shining Wandering Howling Painted Drowned Crooked Royal
Ancient Modern Lucky Cursed Blessed Faded Tender Reckless Fearless Honest Invisible Infinite
Radiant Solemn Stormy Sunny Winter Summer Autumn Spring Heavy Hollowed Open Narrow Distant Brave
""".split(), dtype=object)

NOUNS = np.array("""
River Kingdom Shadow Heart City Storm Garden Road Empire Ghost Promise Mirror Island Harbor Tide
Horizon Machine Station Letter Dream Witness Hunter Stranger Crown Signal Fire Echo Orchard
Frontier Valley Voyage Circus Highway Canyon Desert Lighthouse Bridge Tower Window Prophecy
Covenant Labyrinth Requiem Symphony Paradise Asylum Carnival Reckoning Anthem Ballad Compass
Diamond Engine Feather Fortress Glacier Hurricane Jungle Lantern Meadow Monsoon Ocean Palace
Pilgrim Quarry Raven Saint Sparrow Thunder Tunnel Velvet Village Whisper Wolf Angel Arrow Bell
Blood Bone Candle Chain Cloud Comet Crow Dawn Dust Eagle Ember Forest Fox Gate Glory Gold Heaven
Honey Ice Knife Lake Light Lion Moon Mountain Night Rain Rose Sea Silence Sky Smoke Snow Song
Star Stone Sun Sword Thorn Tiger Train Tree Water Wind Wing Winter Wire Wonder Year Youth Zero
Alibi Bargain Cipher Debt Exile Fable Gambit Heist Idol Jury Legacy Mutiny Oath Rumor Verdict
""".split(), dtype=object)

SUBTITLES = np.array("""
Part_Two|The_Reckoning|Rising|Origins|The_Last_Chapter|Homecoming|Resurrection|Endgame|A_New_Dawn
|Revelations|The_Return|First_Blood|Aftermath|Legacy|The_Final_Hour|Dead_Reckoning|Into_the_Dark
|The_Lost_Years|Retribution|Redemption|Part_Three|Beyond|The_Awakening|Nightfall|Exodus
""".replace("\n", "").split("|"), dtype=object)
SUBTITLES = np.array([s.replace("_", " ") for s in SUBTITLES], dtype=object)

VERBS = np.array("""
Hold Take Call Love Leave Save Show Tell Follow Carry Kiss Find Need Teach Wake Lead Bring Free
Meet Catch Chase Hide Keep Let Miss Pull Push Send Trust Want
""".split(), dtype=object)
ADVERBS = np.array("Home Tonight Now Slowly Closer Again Away Down Forever Higher Under Gently Back Out".split(),
                   dtype=object)

GENRE_BASES = np.array("""
Drama|Comedy|Action|Thriller|Horror|Romance|Documentary|Science Fiction|Fantasy|Animation|Crime
|Mystery|Adventure|Western|Musical|War|Biography|History|Family|Sport|Film Noir|Action & Adventure
|Sci-Fi & Fantasy|Satire|Melodrama|Mockumentary|Slasher|Heist|Road Movie|Coming of Age
""".replace("\n", "").split("|"), dtype=object)
GENRE_MODIFIERS = np.array("""
Psychological|Romantic|Political|Historical|Supernatural|Dark|Black|Teen|Erotic|Legal|Medical
|Martial Arts|Spy|Space|Urban|Rural|Gothic|Cyberpunk|Steampunk|Post-Apocalyptic|Disaster|Buddy
|Period|Epic|Surreal|Experimental|Independent|Neo|Slapstick|Tragic|Military|Sports|Hood|Body|Folk
|Cosmic|Techno|Eco|Survival|Found Footage|Mumblecore|Prison|Courtroom|Animated|Silent|Erotic Noir
""".replace("\n", "").split("|"), dtype=object)

CHARACTER_TITLES = np.array("""
Detective|Dr.|Captain|Officer|Agent|Professor|Sergeant|Father|Sister|Mrs.|Mr.|Lady|Lord|Judge
|Nurse|Coach|Uncle|Aunt|Major|Inspector
""".replace("\n", "").split("|"), dtype=object)
GENERIC_CHARACTERS = np.array("""
Bartender|Nurse|Guard|Reporter|Himself|Herself|Waitress|Taxi Driver|Young Boy|Young Girl|Doctor
|Police Officer|Narrator|Man in Bar|Woman in Park|Soldier|Receptionist|Priest|Teacher|Thug
""".replace("\n", "").split("|"), dtype=object)

BAND_NOUNS = np.array("""
Foxes Wolves Ravens Saints Strangers Machines Engines Echoes Lanterns Pilgrims Sparrows Comets
Tigers Thieves Ghosts Kings Queens Orphans Drifters Lovers Rebels Dreamers Giants Outlaws Owls
""".split(), dtype=object)

REMIX_SUFFIXES = np.array([" (Remix)", " (Club Mix)", " (Acoustic)", " - Live", " (Radio Edit)",
                           " (Extended Mix)"], dtype=object)
ALBUM_SUFFIXES = np.array([" [Explicit]", " (Deluxe)", " (Deluxe Edition)", " (Remastered)",
                           " (Expanded Edition)", " [Bonus Track Version]"], dtype=object)


# ----------------------------------------------------------------------------- generation ----
def _pick(rng: np.random.Generator, words: np.ndarray, n: int) -> np.ndarray:
    """``n`` uniform draws from ``words`` (an object array), as an object array."""
    return words[rng.integers(0, len(words), size=n)]


def _join(*columns: np.ndarray, sep: str = "") -> np.ndarray:
    """Element-wise string join of equal-length object arrays, skipping empty parts.

    Object-array ``+`` runs the concatenation loop in C, several times faster than a list
    comprehension over ``zip``.
    """
    out = columns[0].astype(object)
    for column in columns[1:]:
        column = column.astype(object)
        if sep:
            glue = np.where((out != "") & (column != ""), sep, "").astype(object)
            out = out + glue + column
        else:
            out = out + column
    return out


def _vocabulary(listed: np.ndarray, *syllables: np.ndarray) -> np.ndarray:
    """``listed`` followed by every concatenation of one item from each of ``syllables``."""
    built = syllables[0]
    for part in syllables[1:]:
        built = (built[:, None] + part[None, :].astype(object)).ravel()
    return np.concatenate([listed, built.astype(object)])


_GIVEN_VOCAB = _vocabulary(GIVEN, _GIVEN_ONSETS, _GIVEN_MIDDLES, _GIVEN_ENDS)
_FAMILY_VOCAB = _vocabulary(FAMILY, _FAMILY_ONSETS, _FAMILY_CODAS)


def _pick_mixed(rng: np.random.Generator, vocabulary: np.ndarray, n_listed: int, listed_share: float,
                n: int) -> np.ndarray:
    """``n`` draws from ``vocabulary``: its first ``n_listed`` items with probability ``listed_share``."""
    listed = rng.integers(0, n_listed, size=n)
    built = rng.integers(n_listed, len(vocabulary), size=n)
    return vocabulary[np.where(rng.random(n) < listed_share, listed, built)]


def given_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` given names: 60 % from :data:`GIVEN`, 40 % built from three syllables.

    The syllable names widen the name space (about 2,700 given names) so that accidental
    namesakes stay rare even with a million people; planted namesakes are then the ones that count.
    """
    return _pick_mixed(rng, _GIVEN_VOCAB, len(GIVEN), 0.6, n)


def family_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` family names: 35 % from :data:`FAMILY`, 65 % onset + coda ("Kar" + "ovic")."""
    return _pick_mixed(rng, _FAMILY_VOCAB, len(FAMILY), 0.35, n)


def person_names(rng: np.random.Generator, n: int, *, middle_share: float = 0.3) -> np.ndarray:
    """``n`` person names "Given [Middle] Family".

    A share of names carries a middle part (a second given or family name, as in "Aditya Raj
    Kapoor") because adding or dropping it is the most common way two KGs disagree on a person.
    """
    given, family = given_names(rng, n), family_names(rng, n)
    middle_source = np.where(rng.random(n) < 0.5, given_names(rng, n), family_names(rng, n))
    middle = np.where(rng.random(n) < middle_share, middle_source, "")
    return _join(given, middle, family, sep=" ")


def band_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` band names, most with a leading "The" (so "X, The" is a live variant for artists)."""
    kind = rng.integers(0, 3, size=n)
    adj, noun, band = _pick(rng, ADJECTIVES, n), _pick(rng, NOUNS, n), _pick(rng, BAND_NOUNS, n)
    out = [f"The {a} {b}" if k == 0 else f"The {w} {b}" if k == 1 else f"{a} {w}"
           for k, a, w, b in zip(kind, adj, noun, band)]
    return np.array(out, dtype=object)


def film_titles(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` film titles from a handful of patterns.

    Patterns include a leading article ("The Silent River", variant "Silent River, The"), a
    subtitle ("Storm: Part Two", variant "Storm"), a possessive and a sequel number, because
    those are where film catalogues disagree.
    """
    kind = rng.choice(8, size=n, p=[0.15, 0.15, 0.15, 0.12, 0.1, 0.15, 0.06, 0.12])
    a, w, m = _pick(rng, ADJECTIVES, n), _pick(rng, NOUNS, n), _pick(rng, NOUNS, n)
    g, s = given_names(rng, n), _pick(rng, SUBTITLES, n)
    num = rng.integers(2, 5, size=n)
    patterns = ("{a} {w}", "The {a} {w}", "{w} of the {m}", "The {w} of {g}", "{g}'s {w}",
                "{a} {w}: {s}", "The {w}: {s}", "{a} {w} {num}")
    out = [patterns[k].format(a=a_, w=w_, m=m_, g=g_, s=s_, num=n_)
           for k, a_, w_, m_, g_, s_, n_ in zip(kind, a, w, m, g, s, num)]
    return np.array(out, dtype=object)


def song_titles(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` song titles ("Hold Me Closer", "Neon Heart", "Rain in the Valley", ...)."""
    # Short patterns ("Hold Me Closer") have few combinations, so they are drawn less often.
    kind = rng.choice(10, size=n, p=[0.12, 0.03, 0.12, 0.02, 0.08, 0.1, 0.08, 0.15, 0.15, 0.15])
    a, w, m = _pick(rng, ADJECTIVES, n), _pick(rng, NOUNS, n), _pick(rng, NOUNS, n)
    v, d, g = _pick(rng, VERBS, n), _pick(rng, ADVERBS, n), given_names(rng, n)
    patterns = ("{a} {w}", "{v} Me {d}", "{w} in the {m}", "Don't {v} Me {d}", "{a} {w} Song",
                "{g}, {v} Me {d}", "The {a} {w}", "{w} of {g}", "{a} {g}", "{a} {w} in the {m}")
    out = [patterns[k].format(a=a_, w=w_, m=m_, v=v_, d=d_, g=g_)
           for k, a_, w_, m_, v_, d_, g_ in zip(kind, a, w, m, v, d, g)]
    return np.array(out, dtype=object)


def album_titles(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` album titles ("Velvet Engines", "The Harbor Sessions", "Glass & Thunder", ...)."""
    kind = rng.choice(6, size=n, p=[0.25, 0.03, 0.2, 0.02, 0.2, 0.3])
    a, w, m = _pick(rng, ADJECTIVES, n), _pick(rng, NOUNS, n), _pick(rng, NOUNS, n)
    num = rng.integers(1, 5, size=n)
    patterns = ("{a} {w}s", "The {w} Sessions", "{w} & {m}", "Songs from the {w}", "{a} {w}, Vol. {num}",
                "{a} {m} {w}")
    out = [patterns[k].format(a=a_, w=w_, m=m_, num=n_) for k, a_, w_, m_, n_ in zip(kind, a, w, m, num)]
    return np.array(out, dtype=object)


def genre_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct genre names: the base genres first, then "Modifier Base" combinations.

    Genres are few and popular, so they are unique by construction rather than by re-drawing.
    At most ``len(GENRE_BASES) * (1 + len(GENRE_MODIFIERS))`` names exist.

    Raises
    ------
    ValueError
        If more genres are asked for than can be named.
    """
    n_bases, n_mods = len(GENRE_BASES), len(GENRE_MODIFIERS)
    if n > n_bases * (1 + n_mods):
        raise ValueError(f"at most {n_bases * (1 + n_mods)} distinct genre names, asked for {n}")
    if n <= n_bases:
        return GENRE_BASES[:n].copy()
    combos = rng.choice(n_bases * n_mods, size=n - n_bases, replace=False)
    extra = [f"{GENRE_MODIFIERS[c % n_mods]} {GENRE_BASES[c // n_mods]}" for c in combos]
    return np.concatenate([GENRE_BASES, np.array(extra, dtype=object)])


def character_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` character names.

    Mixes full names, "Detective Voss" style titles, first names only, and a few generic roles
    ("Bartender", "Himself") that recur across films, as they do in real casts: the film and
    the actor, not the name, identify those characters.
    """
    kind = rng.choice(5, size=n, p=[0.45, 0.2, 0.15, 0.1, 0.1])
    g, f, t = given_names(rng, n), family_names(rng, n), _pick(rng, CHARACTER_TITLES, n)
    generic = _pick(rng, GENERIC_CHARACTERS, n)
    out = [f"{g_} {f_}" if k == 0 else f"{t_} {f_}" if k == 1 else g_ if k == 2
           else f"{t_} {g_} {f_}" if k == 3 else x_
           for k, g_, f_, t_, x_ in zip(kind, g, f, t, generic)]
    return np.array(out, dtype=object)


def unique_names(make: Callable[[np.random.Generator, int], np.ndarray], rng: np.random.Generator,
                 n: int, *, max_rounds: int = 6) -> np.ndarray:
    """``n`` names from ``make``, re-drawing duplicates so that accidental namesakes are rare.

    Planted namesakes (see :mod:`core.demo.pairs`) should be the namesakes that matter; without
    re-drawing, a million people from a finite name space would share names by chance. After
    ``max_rounds`` any remaining duplicates are kept (real catalogues have them too).
    """
    names = make(rng, n)
    for _ in range(max_rounds):
        dup = np.flatnonzero(pd.Series(names).duplicated(keep="first").to_numpy())
        if not len(dup):
            break
        names[dup] = make(rng, len(dup))
    return names


# ------------------------------------------------------------------------------- variants ----
_ACCENTED = {"a": "á", "e": "é", "i": "í", "o": "ó", "u": "ü", "n": "ñ", "c": "ç",
             "A": "Á", "E": "É", "O": "Ö", "U": "Ü"}


def strip_accents(name: str) -> str:
    """``name`` with combining marks removed ("José Núñez" -> "Jose Nunez")."""
    decomposed = unicodedata.normalize("NFKD", name)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def toggle_accents(name: str, u: float, extra: str = "") -> str | None:
    """Drop the accents of an accented name, or put one on an unaccented name (at ``u``)."""
    stripped = strip_accents(name)
    if stripped != name:
        return stripped
    positions = [i for i, c in enumerate(name) if c in _ACCENTED]
    if not positions:
        return None
    i = positions[int(u * len(positions))]
    return name[:i] + _ACCENTED[name[i]] + name[i + 1:]


def typo(name: str, u: float, extra: str = "") -> str:
    """One keyboard slip: drop, swap or double one inner character (chosen by ``u``).

    Always returns a different string, so it is the fallback of every variant chain.
    """
    if len(name) < 4:
        return name + name[-1:] if name else "x"
    mode, pos = int(u * 3), (u * 3) % 1.0
    i = 1 + int(pos * (len(name) - 3))  # 1..len-3: the first and last characters stay
    if mode == 1 and name[i] != name[i + 1]:
        return name[:i] + name[i + 1] + name[i] + name[i + 2:]
    if mode == 2:
        return name[:i + 1] + name[i] + name[i + 1:]
    return name[:i] + name[i + 1:]


def change_case(name: str, u: float, extra: str = "") -> str | None:
    """All lower case or all upper case (``u`` < 0.5 picks lower), as some sources store names."""
    out = name.lower() if u < 0.5 else name.upper()
    return None if out == name else out


def drop_middle(name: str, u: float, extra: str = "") -> str | None:
    """Drop a middle or last part of a name of three or more parts ("Aditya Raj Kapoor" -> "Aditya Raj")."""
    parts = name.split()
    if len(parts) < 3:
        return None
    i = 1 + int(u * (len(parts) - 1))
    return " ".join(parts[:i] + parts[i + 1:])


def add_part(name: str, u: float, extra: str = "") -> str | None:
    """Add ``extra`` as a middle (``u`` < 0.5) or trailing part ("Aditya Raj" -> "Aditya Raj Kapoor")."""
    parts = name.split()
    if not extra or len(parts) < 2 or extra in parts:
        return None
    return " ".join(parts[:-1] + [extra, parts[-1]] if u < 0.5 else parts + [extra])


def initials(name: str, u: float, extra: str = "") -> str | None:
    """Abbreviate the first name to its initial ("Aditya Raj Kapoor" -> "A. Raj Kapoor")."""
    parts = name.split()
    if len(parts) < 2 or len(parts[0]) < 3 or not parts[0][0].isalpha() or parts[0].endswith("."):
        return None
    return " ".join([parts[0][0] + "."] + parts[1:])


def drop_first(name: str, u: float, extra: str = "") -> str | None:
    """Drop a leading title or first name ("Detective Mara Voss" -> "Mara Voss")."""
    parts = name.split()
    return " ".join(parts[1:]) if len(parts) >= 2 else None


def move_article(name: str, u: float, extra: str = "") -> str | None:
    """"The X" -> "X, The" (or "X" when ``u`` >= 0.7); "X, The" -> "The X"; else not applicable."""
    if name.startswith("The ") and len(name) > 4:
        rest = name[4:]
        return rest if u >= 0.7 else f"{rest}, The"
    if name.endswith(", The"):
        return "The " + name[:-5]
    return None


def drop_subtitle(name: str, u: float, extra: str = "") -> str | None:
    """"Storm: Part Two" -> "Storm" (catalogues often keep only the main title)."""
    head, sep, _ = name.partition(": ")
    return head if sep and head else None


def add_featuring(name: str, u: float, extra: str = "") -> str | None:
    """"Song" -> "Song (feat. Y)" where ``extra`` is the featured artist Y; needs one."""
    return f"{name} (feat. {extra})" if extra else None


def add_album_suffix(name: str, u: float, extra: str = "") -> str | None:
    """"Album" -> "Album [Explicit]" / "Album (Deluxe)" / ... (chosen by ``u``)."""
    return name + ALBUM_SUFFIXES[int(u * len(ALBUM_SUFFIXES))]


def swap_ampersand(name: str, u: float, extra: str = "") -> str | None:
    """"Action & Adventure" <-> "Action and Adventure"."""
    if " & " in name:
        return name.replace(" & ", " and ")
    if " and " in name:
        return name.replace(" and ", " & ")
    return None


VARIANTS: dict[str, Callable[[str, float, str], str | None]] = {
    "accents": toggle_accents, "typo": typo, "case": change_case, "drop_middle": drop_middle,
    "add_part": add_part, "initials": initials, "drop_first": drop_first, "article": move_article,
    "subtitle": drop_subtitle, "featuring": add_featuring, "album_suffix": add_album_suffix,
    "ampersand": swap_ampersand,
}

#: Variant kinds per kind of name; weights follow how often each disagreement is seen in practice
#: (a missing middle name is common, a typo rarer).
PERSON_VARIANTS = ("drop_middle", "drop_middle", "add_part", "add_part", "initials", "accents", "typo", "case")
ARTIST_VARIANTS = ("article", "article", "drop_middle", "add_part", "initials", "accents", "typo", "case")
FILM_VARIANTS = ("article", "article", "subtitle", "subtitle", "typo", "case", "accents")
CHARACTER_VARIANTS = ("drop_first", "drop_middle", "typo", "case")
GENRE_VARIANTS = ("ampersand", "case", "typo")
SONG_VARIANTS = ("featuring", "case", "featuring", "typo", "article", "case", "typo")
ALBUM_VARIANTS = ("album_suffix", "album_suffix", "album_suffix", "typo", "case", "article")


def _normalise_spaces(name: str) -> str:
    return " ".join(name.split())


def variant_of(name: str, kinds: tuple[str, ...], start: int, u: float, extra: str = "") -> str:
    """The first applicable variant of ``name``, trying ``kinds`` from ``start`` round-robin.

    Falls back to :func:`typo`; the result always differs from ``name``.

    Examples
    --------
    >>> variant_of("The Silent River", FILM_VARIANTS, 0, 0.1)
    'Silent River, The'
    >>> variant_of("Aditya Raj", PERSON_VARIANTS, 2, 0.9, "Kapoor")
    'Aditya Raj Kapoor'
    """
    for k in range(len(kinds)):
        out = VARIANTS[kinds[(start + k) % len(kinds)]](name, u, extra)
        if out is not None:
            out = _normalise_spaces(out)
            if out and out != name:
                return out
    out = _normalise_spaces(typo(name, u))
    return out if out != name else name + "x"


def make_variants(names: np.ndarray, kinds: tuple[str, ...], rng: np.random.Generator,
                  extra: np.ndarray | None = None) -> np.ndarray:
    """A variant of every name in ``names``, each different from its original.

    Parameters
    ----------
    names : (n,) object array of str
    kinds : variant kinds (keys of :data:`VARIANTS`), drawn uniformly per name; repeat a kind to
        weigh it more.
    rng : the only source of randomness (kind and ``u`` are drawn in bulk).
    extra : (n,) object array of str, optional
        Per-name extra string: a part to add for people, the featured artist for songs.

    Returns
    -------
    (n,) object array of str
    """
    n = len(names)
    start = rng.integers(0, len(kinds), size=n)
    u = rng.random(n)
    extra = np.full(n, "", dtype=object) if extra is None else extra
    return np.array([variant_of(s, kinds, k, x, e) for s, k, x, e in zip(names, start, u, extra)], dtype=object)
