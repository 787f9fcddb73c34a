"""Broken inputs for every loader: valid baselines, the hand-made corpus, hypothesis strategies.

Shared by ``tests/core/formats/test_broken_files.py``, ``tests/core/formats/test_fuzz_loaders.py`` and
``bench/malformed_inputs.py``, so the bench counts exactly the kinds of cases the tests assert on.

The contract every loader is held to: for any input, it either returns its result or raises the
project's error type (:class:`~core.formats.errors.DataError`, or :class:`~core.project.checkpoint.CheckpointError`
for model files) whose problems name a file of the input and, where they give a line, a line that
exists. Anything else (``UnicodeDecodeError``, ``IndexError``, a pandas ``ParserError``, a
``RecursionError``...) is a crash, i.e. a loader bug. :func:`attempt` sorts one try into
``ok`` / ``clear`` / ``crash``.

Each loader starts from a small valid input written into a fresh directory (the same tiny data
the loader tests use), so a mutation that breaks it is the only thing wrong.
"""

from __future__ import annotations

import random
import shutil
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from hypothesis import strategies as st

from core.formats.errors import DataError
from tests.conftest import write_tiny_project
from tests.core.formats.test_load_dbp15k import write_tiny
from tests.core.formats.test_load_tables import write_small

#: Size of the "huge line" cases: far over textio.MAX_LINE_BYTES and the csv module's field limit.
HUGE_LINE_BYTES = 50_000_000


# ------------------------------------------------------------------------------- baselines ----
CANDIDATES = ("left_id\tright_id\ttype\tname_score\n"
              "f1\tm10\tfilm\t0.9\nf1\tm11\tfilm\t0.4\nf2\tm11\tfilm\t0.8\np1\tq10\tperson\t1.0\np2\tq11\tperson\t0.7\n")

ITUNES_A = """id,Song_Name,Artist_Name,Album_Name,Genre,Price,CopyRight,Time,Released
0,Runaway Train,Cam,Welcome to Cam Country - EP,"Country , Music",$ 0.99,2015 Sony Music,3:01,31-Mar-15
1,Track 14,Omi,Me 4 U,"Pop , Dance",Album Only,"2015 Ultra Records , LLC",3:41,
2,Cheerleader,Omi,Me 4 U,Pop,$ 1.29,2015 Ultra Records,3:00,"September 16 , 2014"
"""
ITUNES_B = """id,Song_Name,Artist_Name,Album_Name,Genre,Price,CopyRight,Time,Released
0,Runaway Train,Cam,Welcome To Cam Country,Country,$ 0.99,(C) 2015 Sony,3:01,2015-03-31
1,Cheerleader (Felix Jaehn Remix),OMI,Me 4 U,Pop,$ 1.29,(C) 2015 Ultra,27:07:00,"September 16, 2014"
"""
ITUNES_FILES = {"tableA.csv": ITUNES_A, "tableB_partial.csv": ITUNES_B,
                "train.csv": "ltable_id,rtable_id,label\n0,0,1\n1,1,0\n",
                "valid.csv": "ltable_id,rtable_id,label\n2,1,1\n",
                "test.csv": "ltable_id,rtable_id,label\n2,0,0\n"}
DEEPMATCHER = "ltable_id,rtable_id,label\n12,3,1\n7,9,1\n7,4,0\n"


def _native(directory: Path) -> Path:
    return write_tiny_project(directory)


def _native_candidates(directory: Path) -> Path:
    write_tiny_project(directory)
    (directory / "candidates.tsv").write_text(CANDIDATES, encoding="utf-8")
    return directory


def _tables(directory: Path) -> Path:
    from core.formats.tables import PRESETS

    write_small(directory)
    (directory / "mapping.json").write_text(PRESETS["dblp_acm"].to_json(), encoding="utf-8")
    return directory


def _tables_itunes(directory: Path) -> Path:
    from core.formats.tables import PRESETS

    directory.mkdir(parents=True, exist_ok=True)
    for name, text in ITUNES_FILES.items():
        (directory / name).write_text(text, encoding="utf-8")
    (directory / "mapping.json").write_text(PRESETS["itunes_amazon"].to_json(), encoding="utf-8")
    return directory


def _deepmatcher(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "labels.csv").write_text(DEEPMATCHER, encoding="utf-8")
    return directory


def _load_native(directory: Path):
    from core.formats.native import load_project

    return load_project(directory)


def _load_candidates(directory: Path):
    from core.formats.native import load_candidates, load_project

    return load_candidates(load_project(directory), directory)


def _load_tables(directory: Path):
    from core.formats.tables import load_tables

    return load_tables(directory, directory / "mapping.json")


def _load_dbp15k(directory: Path):
    from core.formats.dbp15k import load_dbp15k

    return load_dbp15k(directory, names="translated")


def _load_deepmatcher(directory: Path):
    from core.formats.export import load_deepmatcher_csv

    return load_deepmatcher_csv(directory / "labels.csv")


@dataclass(frozen=True)
class Loader:
    """One loader: the files it reads, how to write a valid input, how to load it."""

    name: str
    files: tuple[str, ...]
    write: Callable[[Path], Path]
    load: Callable[[Path], object]


LOADERS: dict[str, Loader] = {loader.name: loader for loader in (
    Loader("native", ("left/entities.tsv", "left/triples.tsv", "right/entities.tsv", "right/triples.tsv",
                      "schema.json", "links.tsv"), _native, _load_native),
    Loader("native-candidates", ("candidates.tsv",), _native_candidates, _load_candidates),
    Loader("tables-dblp", ("tableA.csv", "tableB.csv", "train.csv", "valid.csv", "test.csv", "gold_matches.csv",
                           "mapping.json"), _tables, _load_tables),
    Loader("tables-itunes", ("tableA.csv", "tableB_partial.csv", "train.csv", "valid.csv", "test.csv",
                             "mapping.json"), _tables_itunes, _load_tables),
    Loader("dbp15k", ("ent_ids_1", "ent_ids_2", "rel_ids_1", "rel_ids_2", "triples_1", "triples_2", "ref_ent_ids",
                      "ent_ids_1_trans_en"), write_tiny, _load_dbp15k),
    Loader("deepmatcher-csv", ("labels.csv",), _deepmatcher, _load_deepmatcher),
)}


# -------------------------------------------------------------------------------- outcomes ----
@dataclass(frozen=True)
class Outcome:
    """``ok`` (loaded), ``clear`` (the project's error, naming the input), or ``crash`` (a bug)."""

    kind: str
    detail: str = ""
    problems: tuple = ()  # the DataError's problems, when there was one


def attempt(load: Callable[[Path], object], directory: Path) -> Outcome:
    """Run ``load(directory)`` and judge the result against the loader contract (module docstring)."""
    try:
        load(directory)
    except DataError as exc:
        wrong = [p for p in exc.problems if not _names_the_input(p.path, p.line, directory) or not p.message.strip()]
        if wrong:
            return Outcome("crash", f"DataError problems that name no input file or no existing line: {wrong[:3]}")
        return Outcome("clear", str(exc).splitlines()[1], tuple(exc.problems))
    except Exception as exc:  # noqa: BLE001 - anything else is exactly what we look for
        # CheckpointError is looked up, not imported: importing core.project.checkpoint loads torch
        checkpoint = sys.modules.get("core.project.checkpoint")
        if checkpoint is not None and isinstance(exc, checkpoint.CheckpointError):
            if not str(exc).startswith(str(directory)):
                return Outcome("crash", f"CheckpointError that does not start with the file's path: {exc}")
            return Outcome("clear", str(exc))
        return Outcome("crash", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()[-2000:]}")
    return Outcome("ok")


def _names_the_input(path: str, line: int | None, directory: Path) -> bool:
    """The problem's file lies in the input directory, and its line (if any) exists in that file."""
    problem_path = Path(path)
    if problem_path != directory and directory not in problem_path.parents:
        return False
    if line is None:
        return True
    if line < 1 or not problem_path.is_file():
        return False
    from core.formats.textio import line_of_offset

    data = problem_path.read_bytes()
    return line <= line_of_offset(data, len(data))


# ---------------------------------------------------------------------- hand-made corpus ----
def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _delimiter(name: str) -> bytes:
    return b"," if name.endswith(".csv") else b"\t"


def _set_line(data: bytes, index: int, content: bytes) -> bytes:
    lines = _lines(data)
    lines[min(index, len(lines) - 1)] = content
    return b"\n".join(lines)


def _non_ascii(data: bytes) -> str:
    """The text with an accented word in its second line, so a wrong encoding shows."""
    lines = data.decode("utf-8", errors="replace").split("\n")
    row = min(1, len(lines) - 1)
    lines[row] = lines[row].replace("a", "é", 1) if "a" in lines[row] else lines[row] + "é"
    return "\n".join(lines)


def _drop_first_column(data: bytes, name: str) -> bytes:
    sep = _delimiter(name)
    return b"\n".join(sep.join(line.split(sep)[1:]) for line in _lines(data))


def _swap_first_columns(data: bytes, name: str) -> bytes:
    sep = _delimiter(name)
    out = []
    for line in _lines(data):
        fields = line.split(sep)
        if len(fields) > 1:
            fields[0], fields[1] = fields[1], fields[0]
        out.append(sep.join(fields))
    return b"\n".join(out)


def _unknown_id(data: bytes, name: str) -> bytes:
    """The first field of the first data line (an id in every format) replaced by an unknown one."""
    sep = _delimiter(name)
    lines = _lines(data)
    row = 1 if len(lines) > 2 and not name.startswith(("ent_ids", "rel_ids", "triples", "ref_ent")) else 0
    fields = lines[row].split(sep)
    fields[0] = b"777777" if fields[0].isdigit() else b"no-such-id"
    lines[row] = sep.join(fields)
    return b"\n".join(lines)


def _huge_line(size: int) -> Callable[[bytes, str], bytes]:
    def edit(data: bytes, name: str) -> bytes:
        return data + b"x" * size + b"\n"
    return edit


#: Returned by an edit to put an empty directory where the file was.
DIRECTORY = b"<directory>"
#: Returned by an edit to put a named pipe (FIFO) where the file was: reading one waits forever.
NAMED_PIPE = b"<named pipe>"


def _duplicate_key(data: bytes, name: str) -> bytes:
    """A JSON object's first key written twice, a table header's first column twice; a file
    without a header gets its first line twice."""
    import json

    if name.endswith(".json"):
        document = json.loads(data)
        key = next(iter(document))
        return b"{" + json.dumps(key).encode() + b": " + json.dumps(document[key]).encode() + b", " + data.lstrip()[1:]
    if name.endswith((".tsv", ".csv")):
        header, _, rest = data.partition(b"\n")
        first = header.split(_delimiter(name))[0]
        return header + _delimiter(name) + first + b"\n" + rest
    return data + _lines(data)[0] + b"\n"

#: name -> edit(bytes of the valid file, file name) -> new bytes, None to delete the file, or
#: :data:`DIRECTORY`.
#: Each is applied to every file of every loader.
MUTATIONS: dict[str, Callable[[bytes, str], bytes | None]] = {
    "empty": lambda data, name: b"",
    "truncated-half": lambda data, name: data[:len(data) // 2],
    "truncated-mid-line": lambda data, name: data[:max(len(data) - 4, 0)],
    "header-only": lambda data, name: data.split(b"\n", 1)[0] + b"\n",
    "binary-garbage": lambda data, name: random.Random(len(data)).randbytes(4096),
    "nul-byte": lambda data, name: data[:len(data) // 3] + b"\x00" + data[len(data) // 3:],
    "latin-1": lambda data, name: _non_ascii(data).encode("latin-1", errors="replace"),
    "utf-16": lambda data, name: _non_ascii(data).encode("utf-16"),
    "utf-16-le-no-bom": lambda data, name: _non_ascii(data).encode("utf-16-le"),
    "bom-and-crlf": lambda data, name: b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n"),
    "cr-line-endings": lambda data, name: data.replace(b"\n", b"\r"),
    "wrong-delimiter-comma-tab": lambda data, name: (data.replace(b",", b"\t") if name.endswith(".csv")
                                                     else data.replace(b"\t", b",")),
    "wrong-delimiter-semicolon": lambda data, name: data.replace(_delimiter(name), b";"),
    "missing-column": _drop_first_column,
    "swapped-columns": _swap_first_columns,
    "extra-field": lambda data, name: _set_line(data, 1, _lines(data)[min(1, len(_lines(data)) - 1)]
                                                + _delimiter(name) + b"extra"),
    "blank-line": lambda data, name: _set_line(data, 1, b"\n" + _lines(data)[min(1, len(_lines(data)) - 1)]),
    "duplicate-line": lambda data, name: data + _lines(data)[min(1, len(_lines(data)) - 1)] + b"\n",
    "unknown-id": _unknown_id,
    "unclosed-quote": lambda data, name: _set_line(data, 1, b'"' + _lines(data)[min(1, len(_lines(data)) - 1)]),
    "huge-field": lambda data, name: _set_line(data, 1, _lines(data)[min(1, len(_lines(data)) - 1)]
                                               + b"y" * 300_000),
    "huge-line": _huge_line(HUGE_LINE_BYTES),
    "deeply-nested-json": lambda data, name: b"[" * 100_000 + b"]" * 100_000,
    "deleted": lambda data, name: None,
    "directory": lambda data, name: DIRECTORY,
    "named-pipe": lambda data, name: NAMED_PIPE,
    "duplicate-key": _duplicate_key,
}


@dataclass(frozen=True)
class Case:
    """One hand-made broken input: ``mutation`` applied to ``file`` of ``loader``'s valid input."""

    loader: str
    file: str
    mutation: str

    @property
    def id(self) -> str:
        return f"{self.loader}:{self.file}:{self.mutation}"


def corpus(*, loaders: tuple[str, ...] | None = None, files_per_mutation: int | None = None) -> list[Case]:
    """The hand-made corpus: every (loader, file, mutation), or a rotating subset.

    With ``files_per_mutation=k``, mutation number ``i`` is applied to ``k`` files of each
    loader, starting at file ``i`` (mod the number of files): every mutation still meets every
    loader and every file meets several mutations, at a fraction of the cost (the test suite's
    choice; ``bench/malformed_inputs.py`` runs all of them).
    """
    cases = []
    for loader in LOADERS.values():
        if loaders is not None and loader.name not in loaders:
            continue
        n = len(loader.files)
        for i, mutation in enumerate(MUTATIONS):
            chosen = range(n) if files_per_mutation is None else sorted({(i + j) % n for j in range(files_per_mutation)})
            cases += [Case(loader.name, loader.files[f], mutation) for f in chosen]
    return cases


def build_case(case: Case, directory: Path, *, huge_line_bytes: int = HUGE_LINE_BYTES) -> Path:
    """Write ``case`` into ``directory`` (made fresh); returns what to load."""
    if directory.exists():
        shutil.rmtree(directory)
    loader = LOADERS[case.loader]
    root = loader.write(directory)
    path = root / case.file
    edit = _huge_line(huge_line_bytes) if case.mutation == "huge-line" else MUTATIONS[case.mutation]
    _replace(path, edit(path.read_bytes(), path.name))
    return root


def _replace(path: Path, content: bytes | None) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    if content is DIRECTORY:
        path.mkdir(parents=True)
    elif content is NAMED_PIPE:
        import os

        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(path)
    elif content is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


# --------------------------------------------------------------------------------- fuzzing ----
#: Tokens the generated lines are built from: ids and names of the valid inputs (so generated
#: lines reach the semantic checks), plus values that have broken parsers before.
SPECIAL_TOKENS = ("", " ", "\t", ",", ";", '"', '""', "\r", "\n", "\r\n", "é", "\x00", "\x85", "\u2028", "\ufeff",
                  "-1", "0", "1", "2", "00", "99999999999999999999", "nan", "inf", "-inf", "1e400", "NaN", "None",
                  "2000-13-45", "1999-03-31", "now", "1999-03-31 10:00+05:00", "3:41", "27:07:00", "$ 1.29",
                  "FREE", "{", "}", "[", "]", ":", "null", "true", '"types"', '"left"', "train", "valid", "test",
                  "unused", "film", "movie", "person", "paper", "author", "entity", "http://x/resource/A_B", "x:number",
                  "year:date", "year:number", "name:text")


def _tokens(loader: Loader) -> list[str]:
    """Fields of the loader's valid files, so generated lines mix real ids with junk."""
    import re
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        root = loader.write(Path(tmp) / "x")
        words = set()
        for name in loader.files:
            words.update(re.split(r'[\t,\n:"{}\[\] ]+', (root / name).read_text(encoding="utf-8")))
    return sorted(w for w in words if w)


def line_strategy(tokens: list[str]) -> st.SearchStrategy[bytes]:
    token = st.sampled_from(tokens) | st.sampled_from(SPECIAL_TOKENS) | st.text(max_size=6)
    separator = st.sampled_from(["\t", ",", "\t", ",", " ", ";", ""])
    return st.lists(st.tuples(token, separator), max_size=8).map(
        lambda parts: "".join(t + s for t, s in parts).encode("utf-8", errors="surrogatepass"))


def edit_strategy(tokens: list[str]) -> st.SearchStrategy[tuple]:
    """One edit of a file's bytes, as plain data (printed by hypothesis when it fails)."""
    where = st.floats(0.0, 1.0)
    line_index = st.integers(0, 40)
    return st.one_of(
        st.tuples(st.just("truncate"), where),
        st.tuples(st.just("insert"), where, st.binary(max_size=16) | line_strategy(tokens)),
        st.tuples(st.just("delete"), where, st.integers(1, 64)),
        st.tuples(st.just("replace-line"), line_index, line_strategy(tokens)),
        st.tuples(st.just("insert-line"), line_index, line_strategy(tokens)),
        st.tuples(st.just("duplicate-line"), line_index),
        st.tuples(st.just("swap-lines"), line_index, line_index),
        st.tuples(st.just("replace-file"), st.binary(max_size=256) | st.lists(line_strategy(tokens), max_size=6)
                  .map(lambda lines: b"\n".join(lines))),
        st.tuples(st.just("mutation"), st.sampled_from(sorted(set(MUTATIONS) - {"huge-line", "deeply-nested-json"}))),
    )


def apply_edit(data: bytes, name: str, edit: tuple) -> bytes | None:
    kind = edit[0]
    if kind == "truncate":
        return data[:int(edit[1] * len(data))]
    if kind == "insert":
        at = int(edit[1] * len(data))
        return data[:at] + edit[2] + data[at:]
    if kind == "delete":
        at = int(edit[1] * len(data))
        return data[:at] + data[at + edit[2]:]
    lines = data.split(b"\n")
    if kind == "replace-line":
        lines[edit[1] % len(lines)] = edit[2]
    elif kind == "insert-line":
        lines.insert(edit[1] % (len(lines) + 1), edit[2])
    elif kind == "duplicate-line":
        lines.insert(edit[1] % len(lines), lines[edit[1] % len(lines)])
    elif kind == "swap-lines":
        i, j = edit[1] % len(lines), edit[2] % len(lines)
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "replace-file":
        return edit[1]
    elif kind == "mutation":
        return MUTATIONS[edit[1]](data, name)
    return b"\n".join(lines)


def edits_strategy(loader: Loader) -> st.SearchStrategy[list[tuple[str, tuple]]]:
    """One to three (file, edit) pairs for ``loader``."""
    tokens = _tokens(loader)
    return st.lists(st.tuples(st.sampled_from(loader.files), edit_strategy(tokens)), min_size=1, max_size=3)


def build_fuzzed(loader: Loader, edits: list[tuple[str, tuple]], directory: Path) -> Path:
    """``loader``'s valid input in ``directory`` (made fresh) with ``edits`` applied in order."""
    if directory.exists():
        shutil.rmtree(directory)
    root = loader.write(directory)
    for name, edit in edits:
        path = root / name
        data = path.read_bytes() if path.is_file() else b""
        _replace(path, apply_edit(data, name, edit))
    return root


# ------------------------------------------------------------------------------ checkpoints ----
def train_tiny_checkpoint(directory: Path) -> tuple[Path, Path]:
    """(project, checkpoint) of a model trained for two steps on the tiny project.

    Narrow layers keep the file at a few MB and the training at a second or two; what is
    tested is the file, not the model's quality.
    """
    from core.project.lifecycle import run_baselines, run_model
    from core.training.loop import TrainConfig

    project = write_tiny_project(directory)
    run = run_baselines(project, methods=())
    trained = run_model(project, run.dataset, run.candidates, TrainConfig(epochs=1, seed=0, max_steps_per_epoch=2),
                        model_config=tiny_model_config())
    return project, trained.checkpoint


def tiny_model_config():
    """The smallest sensible model (imported lazily: this module itself needs no torch)."""
    from core.model.cg_mualign import ModelConfig

    return ModelConfig(hidden=8, n_layers=1, name_dim=8, neighbour_cap=3)


def _flip(position: float) -> Callable[[bytes, str], bytes]:
    def edit(data: bytes, name: str) -> bytes:
        out = bytearray(data)
        out[int(position * (len(out) - 1))] ^= 0xFF
        return bytes(out)
    return edit


def _foreign_torch_file(data: bytes, name: str) -> bytes:
    import io

    import torch

    buffer = io.BytesIO()
    torch.save({"weights": torch.zeros(3)}, buffer)
    return buffer.getvalue()


def _pickle_file(data: bytes, name: str) -> bytes:
    import pickle

    return pickle.dumps({"meta": {"format": "mualign-checkpoint/1"}, "state": {}})


#: Byte-level mutations of a checkpoint file (the text ones of MUTATIONS do not apply to zip files).
CHECKPOINT_MUTATIONS: dict[str, Callable[[bytes, str], bytes | None]] = {
    "empty": MUTATIONS["empty"],
    "truncated-half": MUTATIONS["truncated-half"],
    "truncated-end": lambda data, name: data[:-100],
    "truncated-start": lambda data, name: data[:1000],
    "binary-garbage": MUTATIONS["binary-garbage"],
    "byte-inserted": MUTATIONS["nul-byte"],
    "huge-garbage-appended": _huge_line(HUGE_LINE_BYTES),
    "flip-in-weights": _flip(0.5),
    "flip-near-start": _flip(0.001),
    "flip-near-end": _flip(0.9999),
    "json-text": lambda data, name: b'{"meta": {"format": "mualign-checkpoint/1"}}\n',
    "foreign-torch-file": _foreign_torch_file,
    "plain-pickle": _pickle_file,
    "deleted": MUTATIONS["deleted"],
    "directory": MUTATIONS["directory"],
}


def checkpoint_edit_strategy() -> st.SearchStrategy[tuple]:
    where = st.floats(0.0, 1.0)
    return st.one_of(
        st.tuples(st.just("truncate"), where),
        st.tuples(st.just("insert"), where, st.binary(min_size=1, max_size=16)),
        st.tuples(st.just("delete"), where, st.integers(1, 4096)),
        st.tuples(st.just("flip"), where, st.integers(1, 255)),
        st.tuples(st.just("replace-file"), st.binary(max_size=512)),
    )


def apply_checkpoint_edit(data: bytes, edit: tuple) -> bytes:
    if edit[0] == "flip":
        out = bytearray(data)
        if out:
            out[int(edit[1] * (len(out) - 1))] ^= edit[2]
        return bytes(out)
    return apply_edit(data, "model.pt", edit)


# ------------------------------------------------------------------------------- round trip ----
def round_trip_differences(dataset, directory: Path) -> list[str]:
    """What differs after ``dataset`` is saved to ``directory`` and loaded again (empty: nothing).

    Whatever the native loader accepts, the writer must write back in a form it accepts again
    with the same content; otherwise a project breaks the first time it is re-saved.
    """
    import numpy as np
    import pandas as pd

    from core.formats.native import load_project, save_project

    save_project(dataset, directory)
    again = load_project(directory)
    out = []
    for side in ("left", "right"):
        a, b = getattr(dataset, side), getattr(again, side)
        for field in ("entity_ids", "names"):
            if list(getattr(a, field)) != list(getattr(b, field)):
                out.append(f"{side} {field}")
        if [a.type_names[t] for t in a.entity_types] != [b.type_names[t] for t in b.entity_types]:
            out.append(f"{side} entity types")
        def triples(kg):
            return [(kg.entity_ids[h], kg.relation_names[r], kg.entity_ids[t])
                    for h, r, t in zip(kg.heads, kg.relations, kg.tails)]
        if triples(a) != triples(b):
            out.append(f"{side} triples")
        try:
            pd.testing.assert_frame_equal(a.attributes, b.attributes, check_dtype=False)
        except AssertionError as exc:
            out.append(f"{side} attributes: {str(exc)[:300]}")
    if dataset.schema != again.schema:
        out.append("schema")
    for field in ("left", "right", "type", "label", "split"):
        if not np.array_equal(getattr(dataset.links, field), getattr(again.links, field)):
            out.append(f"links {field}")
    return out
