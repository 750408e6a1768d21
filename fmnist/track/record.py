"""The local copy of a run: what a job logged, kept in its output folder until the store has it.

Every job writes ``mlflow_run.json`` and an ``artifacts/`` folder into its Hydra output
folder. When the tracking server is unreachable during the job, the record lists which parts
did not arrive, and :func:`resend` delivers them later (``python -m fmnist.runs resend``).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mlflow.entities import Metric, Param, RunTag
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

log = logging.getLogger(__name__)

RECORD_NAME = "mlflow_run.json"


@dataclass
class RunRecord:
    """Everything one run logged, and which of it reached the store."""

    tracking_uri: str
    experiment_name: str
    run_name: str | None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    # [key, value, timestamp_ms, step] rows not yet in the store
    unsent_metrics: list[list] = field(default_factory=list)
    run_id: str | None = None
    # The URI of the run's artifact folder, known once the run exists. Older records lack it.
    artifact_uri: str | None = None
    # The tags already in the store, with their values. The first ones came with create_run.
    sent_tags: dict[str, str] = field(default_factory=dict)
    status: str = "RUNNING"
    data_sent: bool = False
    artifacts_sent: bool = False
    terminated: bool = False

    @property
    def complete(self) -> bool:
        return self.run_id is not None and self.data_sent and self.artifacts_sent and self.terminated

    def save(self, folder: Path) -> Path:
        """Write the record atomically as ``folder/mlflow_run.json``."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / RECORD_NAME
        handle, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(handle, "w") as out:
            json.dump(asdict(self), out, indent=1)
        os.replace(temporary, path)
        return path

    @classmethod
    def load(cls, path: Path) -> "RunRecord":
        return cls(**json.loads(path.read_text()))


def send(record: RunRecord, folder: Path, client, experiment_id: str) -> None:
    """Deliver the parts of ``record`` the store lacks; raise when the store fails again.

    Re-sending a metric row that did arrive is harmless: MLflow skips exact duplicates of
    (key, value, timestamp, step).
    """
    if record.run_id is None:
        created(record, client.create_run(experiment_id, run_name=record.run_name, tags=record.tags))
        record.data_sent = False
    if not record.data_sent:
        metrics = [Metric(k, float(v), int(t), int(s)) for k, v, t, s in record.unsent_metrics]
        params = [Param(k, v) for k, v in record.params.items()]
        tags = [RunTag(k, v) for k, v in record.tags.items() if record.sent_tags.get(k) != v]
        while metrics or params or tags:
            # MLflow accepts at most 1000 metrics, 100 params and 100 tags per batch.
            client.log_batch(record.run_id, metrics=metrics[:1000], params=params[:100], tags=tags[:100])
            metrics, params, tags = metrics[1000:], params[100:], tags[100:]
        record.unsent_metrics = []
        record.sent_tags = dict(record.tags)
        record.data_sent = True
    artifacts = folder / "artifacts"
    if not record.artifacts_sent:
        if artifacts.is_dir() and any(artifacts.iterdir()):
            if record.artifact_uri:
                # client.log_artifacts would first read the whole run back to find this URI.
                repository = get_artifact_repository(record.artifact_uri, tracking_uri=client.tracking_uri)
                repository.log_artifacts(str(artifacts))
            else:
                client.log_artifacts(record.run_id, str(artifacts))
        record.artifacts_sent = True
    if not record.terminated and record.status != "RUNNING":
        client.set_terminated(record.run_id, record.status)
        record.terminated = True


def created(record: RunRecord, run) -> None:
    """Note in ``record`` that the store created ``run`` with the record's current tags."""
    record.run_id = run.info.run_id
    record.artifact_uri = run.info.artifact_uri
    record.sent_tags = dict(record.tags)


def pending_records(root: Path) -> list[Path]:
    """Return the records under ``root`` whose runs did not fully reach the store."""
    found = []
    for path in sorted(root.rglob(RECORD_NAME)):
        try:
            if not RunRecord.load(path).complete:
                found.append(path)
        except (OSError, ValueError, TypeError) as error:
            log.warning("Skipping unreadable record %s (%s)", path, error)
    return found
