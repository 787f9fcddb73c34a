"""Writing the demo pairs as projects: the one place that knows both domains.

Kept apart from :mod:`core.demo.pairs` (the shared machinery both domains import), so no module
imports one that imports it back.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.demo.movies import generate_movie_pair
from core.demo.music import generate_music_pair
from core.formats.native import save_project
from core.formats.textio import atomic_write_text


def write_demo(directory: str | Path, *, scale: int = 300, seed: int = 0) -> dict[str, Path]:
    """Generate and write both demo projects: ``directory/movies`` and ``directory/music``.

    Each is a native project (:func:`core.formats.native.save_project`) plus ``planted.json``,
    the :class:`PlantedCases` by external id, which the loader ignores.

    Parameters
    ----------
    scale : films in the movie pair and songs in the music pair, at least 20 (entities per side
        grow linearly: about 11.5 per film and 1.6 per song).
    seed : same seed, byte-identical files.

    Returns
    -------
    dict with keys "movies" and "music" -> project directory.
    """
    directory = Path(directory)
    out: dict[str, Path] = {}
    for key, make in (("movies", generate_movie_pair), ("music", generate_music_pair)):
        pair = make(scale, seed=seed)
        path = save_project(pair.dataset, directory / key)
        atomic_write_text(path / "planted.json",
                          json.dumps(pair.planted.to_dict(), indent=1, ensure_ascii=False) + "\n")
        out[key] = path
    return out
