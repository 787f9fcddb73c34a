"""Model checkpoints: weights plus everything needed to use them on data, written atomically.

A checkpoint carries the model and training configs, the feature spec (hashing and scaling), the
vocabulary (type and relation ids), the schema it was trained under, the calibration, and a model
version id (a hash of all that and of the weights), so a score can always be traced to the model
that produced it. Loading it against data whose schema or vocabulary differ is a clear error,
never a silently misaligned model. Writing goes through a temporary file and a rename, so a crash
mid-write leaves the previous checkpoint intact, and a truncated file fails loudly.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from core.data.dataset import AlignmentDataset
from core.model.setup import EncoderSetup, build_setup
from core.features.entity_features import FeatureSpec
from core.model.cg_mualign import CGMuAlign, ModelConfig
from core.scoring.model_scorer import ModelScorer
from core.formats.textio import atomic_write_bytes
from core.features.vocabulary import Vocabulary, build_vocabulary

FORMAT = "mualign-checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: unreadable, or made for other data."""


@dataclass(frozen=True)
class CheckpointInfo:
    version: str
    model_config: ModelConfig
    train_config: dict
    spec: FeatureSpec
    vocabulary: Vocabulary
    schema: dict
    calibration: tuple[float, float] | None
    metrics: dict


def checkpoint_bytes(scorer: ModelScorer, *, train_config: dict, metrics: dict | None = None) -> tuple[str, bytes]:
    """(model version id, the checkpoint file's bytes) for the scorer's model.

    Built in memory so a caller can write it wherever its crash-safety rules say
    (:func:`save_checkpoint`, :func:`core.project.model_versions.store_version`).
    """
    model, setup = scorer.model, scorer.setup
    meta = {
        "format": FORMAT,
        "model_config": model.config.to_dict(),
        "train_config": train_config,
        "spec": setup.spec.to_dict(),
        "vocabulary": setup.vocabulary.to_dict(),
        "schema": setup.dataset.schema.to_dict(),
        "calibration": list(scorer.calibration) if scorer.calibration else None,
        "metrics": metrics or {},
    }
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    meta["version"] = _digest(meta, state)
    buffer = io.BytesIO()
    torch.save({"meta": meta, "state": state}, buffer)
    return meta["version"], buffer.getvalue()


def _digest(meta: dict, state: dict) -> str:
    """The version id: a hash of the metadata (without the id itself) and of every weight.

    Reading recomputes it, so a file whose bytes changed after writing (a flipped bit on disk,
    a partial copy that still parses) is refused instead of scoring with damaged weights.
    """
    digest = hashlib.sha256(json.dumps({k: v for k, v in meta.items() if k != "version"},
                                       sort_keys=True, default=str).encode())
    for key in sorted(state):
        digest.update(key.encode())
        digest.update(state[key].contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def save_checkpoint(path: str | Path, scorer: ModelScorer, *, train_config: dict, metrics: dict | None = None) -> str:
    """Write the scorer's model atomically; returns the model version id."""
    version, data = checkpoint_bytes(scorer, train_config=train_config, metrics=metrics)
    atomic_write_bytes(Path(path), data)
    return version


def _short(exc: BaseException) -> str:
    """First line of an exception's text, capped: torch's own messages run to a screenful."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def read_checkpoint(path: str | Path) -> tuple[CheckpointInfo, dict]:
    """The checkpoint's metadata and weights, after checking the file is whole and is one.

    Raises
    ------
    CheckpointError
        Missing, truncated, corrupted (contents no longer match the version id), foreign (not a
        mualign checkpoint), or of another format version; the message names the file.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint not found")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, expected a checkpoint file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a truncated or foreign file
        reason = ("it holds Python objects that torch will not load safely" if "Weights only load failed" in str(exc)
                  else _short(exc))
        raise CheckpointError(f"{path}: unreadable checkpoint ({reason}); it may be truncated or not "
                              "a mualign checkpoint") from None
    if not (isinstance(payload, dict) and isinstance(payload.get("meta"), dict)
            and isinstance(payload.get("state"), dict)):
        raise CheckpointError(f"{path}: not a mualign checkpoint (a torch file without mualign's "
                              "'meta' and 'state' entries)")
    meta, state = payload["meta"], payload["state"]
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a {FORMAT} file (format {meta.get('format')!r})")
    if not isinstance(meta.get("version"), str):
        raise CheckpointError(f"{path}: not a complete mualign checkpoint (no version id)")
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise CheckpointError(f"{path}: corrupted checkpoint: its weights are not all named tensors")
    try:
        digest = _digest(meta, state)
    except Exception as exc:  # metadata JSON cannot sort, or a tensor numpy cannot view (crafted files)
        raise CheckpointError(f"{path}: corrupted checkpoint: its version id cannot be checked ({_short(exc)})") from None
    if meta.get("version") != digest:
        raise CheckpointError(f"{path}: corrupted checkpoint: its contents no longer match its version id "
                              f"{meta.get('version')!r} (changed on disk after it was written); "
                              "retrain or restore the file")
    try:
        info = CheckpointInfo(meta["version"], ModelConfig(**meta["model_config"]), meta["train_config"],
                              FeatureSpec.from_dict(meta["spec"]), Vocabulary.from_dict(meta["vocabulary"]),
                              meta["schema"], tuple(meta["calibration"]) if meta["calibration"] else None,
                              meta.get("metrics", {}))
    except Exception as exc:  # a whole file with metadata this version cannot read
        raise CheckpointError(f"{path}: checkpoint metadata cannot be read ({_short(exc)}); "
                              "it was written by another mualign version") from None
    return info, state


def _schema_differences(stored: dict, current: dict) -> str:
    """Which parts of two schema dicts differ, in words, for the mismatch message."""
    parts = []
    for key in ("types", "relations", "attributes"):
        def entries(schema):
            items = schema.get(key, []) if isinstance(schema, dict) else []
            return sorted(f"{e.get('name')}: {e.get('left')}<->{e.get('right')}" for e in items if isinstance(e, dict))
        old, new = entries(stored), entries(current)
        if old != new:
            only_old = [e for e in old if e not in new][:5]
            only_new = [e for e in new if e not in old][:5]
            parts.append(f"{key}: checkpoint only {only_old}, data only {only_new}")
    return "; ".join(parts) or "same entries in another order"


def load_scorer(path: str | Path, dataset: AlignmentDataset, *, device: str = "cpu") -> tuple[ModelScorer, CheckpointInfo]:
    """A ready scorer for ``dataset`` from a checkpoint, after checking they belong together.

    Raises
    ------
    CheckpointError
        The file is not a usable checkpoint (see :func:`read_checkpoint`), or it was trained on
        data with another schema, other types or relations, or attribute columns that this data
        lacks or holds as another kind.
    """
    info, state = read_checkpoint(path)
    if info.schema != dataset.schema.to_dict():
        raise CheckpointError(f"{path}: the checkpoint was trained under another schema mapping "
                              f"({_schema_differences(info.schema, dataset.schema.to_dict())}); retrain on this project")
    current = build_vocabulary(dataset, max_relations=info.model_config.max_relations)
    if (current.type_names != info.vocabulary.type_names
            or set(current.relation_names) != set(info.vocabulary.relation_names)):
        raise CheckpointError(f"{path}: the data's types or relations differ from the checkpoint's "
                              f"(checkpoint relations {len(info.vocabulary.relation_names)}, data "
                              f"{len(current.relation_names)}); retrain on this project")
    missing = [a.left for a in info.spec.attributes if a.left not in dataset.left.attributes.columns] + \
              [a.right for a in info.spec.attributes if a.right not in dataset.right.attributes.columns]
    if missing:
        raise CheckpointError(f"{path}: the checkpoint's features need attribute columns {missing} that the data lacks")
    changed = [f"{side} {getattr(a, side)!r} is {kg.attribute_kind(getattr(a, side))}, the model reads a {a.kind}"
               for a in info.spec.attributes for side, kg in (("left", dataset.left), ("right", dataset.right))
               if kg.attribute_kind(getattr(a, side)) != a.kind]
    if changed:
        raise CheckpointError(f"{path}: the data's attribute kinds differ from the checkpoint's features "
                              f"({'; '.join(changed)}); retrain on this project")
    try:
        setup: EncoderSetup = build_setup(dataset, info.model_config, spec=info.spec, vocabulary=info.vocabulary)
        model: CGMuAlign = setup.new_model(info.model_config)
        model.load_state_dict(state)
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: weights do not fit the model they claim to be ({_short(exc)})") from None
    model.to(device)
    scorer = ModelScorer(model, setup, name=f"cg-mualign@{info.version}", calibration=info.calibration)
    return scorer, info
