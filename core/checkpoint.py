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
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from core.dataset import AlignmentDataset
from core.encoder_setup import EncoderSetup, build_setup
from core.features import FeatureSpec
from core.model import CGMuAlign, ModelConfig
from core.scoring import ModelScorer
from core.vocabulary import Vocabulary, build_vocabulary

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


def save_checkpoint(path: str | Path, scorer: ModelScorer, *, train_config: dict, metrics: dict | None = None) -> str:
    """Write the scorer's model atomically; returns the model version id."""
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
    digest = hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode())
    for key in sorted(state):
        digest.update(key.encode())
        digest.update(state[key].numpy().tobytes())
    meta["version"] = digest.hexdigest()[:12]
    buffer = io.BytesIO()
    torch.save({"meta": meta, "state": state}, buffer)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(buffer.getvalue())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return meta["version"]


def read_checkpoint(path: str | Path) -> tuple[CheckpointInfo, dict]:
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        meta, state = payload["meta"], payload["state"]
        if meta.get("format") != FORMAT:
            raise CheckpointError(f"{path}: not a {FORMAT} file (format {meta.get('format')!r})")
        info = CheckpointInfo(meta["version"], ModelConfig(**meta["model_config"]), meta["train_config"],
                              FeatureSpec.from_dict(meta["spec"]), Vocabulary.from_dict(meta["vocabulary"]),
                              meta["schema"], tuple(meta["calibration"]) if meta["calibration"] else None,
                              meta.get("metrics", {}))
    except CheckpointError:
        raise
    except FileNotFoundError:
        raise CheckpointError(f"{path}: checkpoint not found") from None
    except Exception as exc:  # torch raises many kinds for a truncated or foreign file
        raise CheckpointError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc}); "
                              "it may be truncated or not a mualign checkpoint") from None
    return info, state


def load_scorer(path: str | Path, dataset: AlignmentDataset, *, device: str = "cpu") -> tuple[ModelScorer, CheckpointInfo]:
    """A ready scorer for ``dataset`` from a checkpoint, after checking they belong together."""
    info, state = read_checkpoint(path)
    if info.schema != dataset.schema.to_dict():
        raise CheckpointError(f"{path}: the checkpoint was trained under another schema mapping "
                              f"(types {[t['name'] for t in info.schema['types']]}, this data "
                              f"{list(dataset.schema.type_names)}); retrain on this project")
    current = build_vocabulary(dataset, max_relations=info.model_config.max_relations)
    if current.type_names != info.vocabulary.type_names or set(current.relation_names) != set(info.vocabulary.relation_names):
        raise CheckpointError(f"{path}: the data's types or relations differ from the checkpoint's "
                              f"(checkpoint relations {len(info.vocabulary.relation_names)}, data "
                              f"{len(current.relation_names)}); retrain on this project")
    missing = [a.left for a in info.spec.attributes if a.left not in dataset.left.attributes.columns] + \
              [a.right for a in info.spec.attributes if a.right not in dataset.right.attributes.columns]
    if missing:
        raise CheckpointError(f"{path}: the checkpoint's features need attribute columns {missing} that the data lacks")
    setup: EncoderSetup = build_setup(dataset, info.model_config, spec=info.spec, vocabulary=info.vocabulary)
    model: CGMuAlign = setup.new_model(info.model_config)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit the model they claim to be ({exc})") from None
    model.to(device)
    scorer = ModelScorer(model, setup, name=f"cg-mualign@{info.version}", calibration=info.calibration)
    return scorer, info
