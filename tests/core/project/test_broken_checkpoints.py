"""Broken and mismatched model checkpoints: always a clear CheckpointError, never a half-model.

A checkpoint is loaded by the app, ``mualign score`` and ``mualign explain``. A file that is
truncated, damaged, foreign, or made for other data must stop them with a ``CheckpointError``
that names the file and says what is wrong; above all, a file whose weights changed after
writing (a flipped bit, a partial copy that still unzips) must not score anything, which is
what the version hash check is for.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings

from core.project.checkpoint import CheckpointError, load_scorer, read_checkpoint
from core.formats.native import load_project
from tests.support.broken_inputs import (CHECKPOINT_MUTATIONS, DIRECTORY, apply_checkpoint_edit, attempt,
                                 checkpoint_edit_strategy, train_tiny_checkpoint)
from tests.conftest import RIGHT_ENTITIES, RIGHT_TRIPLES, SCHEMA, write_tiny_project


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """(project, checkpoint file, its bytes) of a two-step model on the tiny project."""
    project, checkpoint = train_tiny_checkpoint(tmp_path_factory.mktemp("model") / "tiny")
    return project, checkpoint, checkpoint.read_bytes()


def _broken_copy(tiny_model, tmp_path: Path, content) -> Path:
    project, checkpoint, _ = tiny_model
    path = tmp_path / "models" / checkpoint.name
    path.parent.mkdir(parents=True, exist_ok=True)
    if content is DIRECTORY:
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    return path


def test_the_intact_checkpoint_loads_and_scores(tiny_model):
    project, checkpoint, _ = tiny_model
    dataset = load_project(project)
    scorer, info = load_scorer(checkpoint, dataset)
    assert checkpoint.name == f"model-{info.version}.pt"
    scores = scorer.score_pairs(np.array([0, 1]), np.array([0, 1]))
    assert np.isfinite(scores).all()


EXPECTED = {
    "empty": "unreadable checkpoint", "truncated-half": "unreadable checkpoint", "truncated-end": "unreadable checkpoint",
    "truncated-start": "unreadable checkpoint", "binary-garbage": "unreadable checkpoint",
    "byte-inserted": "", "huge-garbage-appended": "", "flip-in-weights": "corrupted checkpoint",
    "flip-near-start": "", "flip-near-end": "", "json-text": "unreadable checkpoint",
    "foreign-torch-file": "not a mualign checkpoint", "plain-pickle": "torch will not load safely",
    "deleted": "checkpoint not found", "directory": "is a directory",
}


#: A flipped byte in the zip directory at the end of the file can land in a field torch never
#: reads (a timestamp, file attributes): the model is then intact, which the version check proves.
MAY_BE_HARMLESS = {"flip-near-end"}


@pytest.mark.parametrize("mutation", sorted(CHECKPOINT_MUTATIONS))
def test_each_broken_checkpoint_is_a_clear_checkpoint_error(tiny_model, tmp_path, mutation):
    project, checkpoint, data = tiny_model
    path = _broken_copy(tiny_model, tmp_path, CHECKPOINT_MUTATIONS[mutation](data, checkpoint.name))
    try:
        _, info = load_scorer(path, load_project(project))
    except CheckpointError as exc:
        message = str(exc)
        assert message.startswith(f"{path}: ") and EXPECTED[mutation] in message
        assert len(message) < 400  # torch's own screenful of text is summarised
    else:
        assert mutation in MAY_BE_HARMLESS, f"{mutation}: a damaged checkpoint loaded"
        assert checkpoint.name == f"model-{info.version}.pt"  # the same metadata and weights


def test_a_weight_changed_after_writing_is_refused_by_the_version_check(tiny_model, tmp_path):
    """The zip layer does not notice a changed tensor; the version hash over the weights does."""
    import io

    import torch

    project, checkpoint, data = tiny_model
    payload = torch.load(io.BytesIO(data), weights_only=True)
    name = next(iter(payload["state"]))
    payload["state"][name] = payload["state"][name] + 1e-3
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    path = _broken_copy(tiny_model, tmp_path, buffer.getvalue())
    with pytest.raises(CheckpointError, match="corrupted checkpoint: its contents no longer match its version id"):
        read_checkpoint(path)


def test_a_checkpoint_for_another_schema_names_what_differs(tiny_model, tmp_path):
    project, checkpoint, _ = tiny_model
    other = write_tiny_project(tmp_path / "other", **{"schema.json": SCHEMA.replace('"name": "directed"',
                                                                                    '"name": "directing"')})
    with pytest.raises(CheckpointError, match=r"another schema mapping \(relations: checkpoint only "
                                              r"\['directed: directed_by<->director'\], "
                                              r"data only \['directing: directed_by<->director'\]\)"):
        load_scorer(checkpoint, load_project(other))


def test_a_checkpoint_whose_features_do_not_fit_the_data(tiny_model, tmp_path):
    project, checkpoint, _ = tiny_model
    # The same schema (attributes listed as the checkpoint stored them), but the right side now
    # holds year as text: the model's number features cannot read it.
    schema = (SCHEMA.rstrip().removesuffix("}")
              + ',\n  "attributes": [{"name": "year", "left": "year", "right": "year"}]\n}\n')
    text_year = write_tiny_project(tmp_path / "text_year", **{
        "schema.json": schema, "right/entities.tsv": RIGHT_ENTITIES.replace("year:number", "year:text")})
    with pytest.raises(CheckpointError, match=r"attribute kinds differ from the checkpoint's features \(right 'year' "
                                              r"is text, the model reads a number\)"):
        load_scorer(checkpoint, load_project(text_year))
    # An extra, unpaired relation on the right: same schema, other relation vocabulary.
    extra = write_tiny_project(tmp_path / "extra_relation", **{
        "right/triples.tsv": RIGHT_TRIPLES + "q10\tmarried_to\tq11\n"})
    with pytest.raises(CheckpointError, match="types or relations differ from the checkpoint's"):
        load_scorer(checkpoint, load_project(extra))


@settings(max_examples=15, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(edits=checkpoint_edit_strategy().map(lambda e: [e]))
def test_random_damage_to_a_checkpoint_is_refused_or_harmless(tiny_model, tmp_path, edits):
    project, checkpoint, data = tiny_model
    damaged = data
    for edit in edits:
        damaged = apply_checkpoint_edit(damaged, edit)
    folder = tmp_path / "fuzz"
    shutil.rmtree(folder, ignore_errors=True)
    path = folder / checkpoint.name
    path.parent.mkdir(parents=True)
    path.write_bytes(damaged)
    outcome = attempt(lambda _: load_scorer(path, load_project(project)), folder)
    event(f"outcome: {outcome.kind}")
    assert outcome.kind != "crash", outcome.detail
    if outcome.kind == "ok":  # only an edit that left metadata and weights intact may load
        assert checkpoint.name == f"model-{read_checkpoint(path)[0].version}.pt"
