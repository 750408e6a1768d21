"""Turning a config into MLflow params, numeric metrics and a stable identity hash."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH
from omegaconf import DictConfig, OmegaConf

# Keys that set where things are or how they are tracked, not what a run computes.
NON_IDENTITY_KEYS = {"data.root", "data.download", "data.mirror", "data.verify"}
_BAD_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-. :/]")


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts into dotted keys; lists stay whole values."""
    if not isinstance(node, dict):
        return {prefix: node}
    flat: dict[str, Any] = {}
    for key, value in node.items():
        if str(key).startswith("_"):
            continue
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def run_sections(cfg: DictConfig) -> dict[str, Any]:
    """Return the resolved sections the pipeline declares, plus the pipeline's name."""
    sections = {name: OmegaConf.to_container(cfg[name], resolve=True) for name in cfg.pipeline.sections}
    return {"pipeline": {"name": cfg.pipeline.name}, **sections}


def to_params(flat: dict[str, Any]) -> dict[str, str]:
    """Format flat values as MLflow params: keys sanitized, long values cut to MLflow's limit.

    A value cut short ends with ``...``; the full value is in the run's ``config.yaml``.
    """
    params = {}
    for key, value in flat.items():
        text = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
        if len(text) > MAX_PARAM_VAL_LENGTH:
            text = text[: MAX_PARAM_VAL_LENGTH - 3] + "..."
        params[_BAD_KEY_CHARS.sub("_", key)] = text
    return params


def numeric_values(flat: dict[str, Any]) -> dict[str, float]:
    """Return the int and float hyperparameters, logged again as metrics so they sort as numbers."""
    return {
        _BAD_KEY_CHARS.sub("_", key): float(value)
        for key, value in flat.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    }


def config_hash(flat: dict[str, Any]) -> str:
    """Return a 16-hex-digit hash of the values that decide a run's results."""
    identity = {key: value for key, value in flat.items() if key not in NON_IDENTITY_KEYS}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
