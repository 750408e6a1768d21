"""One MLflow run per job: created before the work, written in batches, closed with its status."""

from __future__ import annotations

import contextlib
import functools
import logging
import shutil
import subprocess
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Iterator

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, OmegaConf

from fmnist.track import params as cfg_params
from fmnist.track.store import check_reachable, client_for, configure_client, ensure_experiment, resolve_uri

log = logging.getLogger(__name__)

TAG_HASH = "fmnist.config_hash"
TAG_PARENT = "mlflow.parentRunId"
TAG_DATA = "fmnist.data_digest"
TAG_PROTOCOL = "fmnist.protocol"
TAG_PIPELINE = "fmnist.pipeline"
TAG_HEARTBEAT = "fmnist.heartbeat"


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """Return the commit of the checkout fmnist runs from, or None outside a git checkout."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
            text=True, timeout=5, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


def experiment_name(cfg: DictConfig) -> str:
    return cfg.tracking.experiment or f"fmnist-{cfg.pipeline.name}"


class JobRun:
    """The MLflow run of one job.

    Metrics, params and tags are buffered and written with one ``log_batch`` call, and files
    are staged in a temporary folder and uploaded with one ``log_artifacts`` call, because
    separate calls cost several times more per run. :meth:`log_metric_now` writes at once,
    for curves that must be visible while a model trains.
    """

    def __init__(self, client: MlflowClient, run_id: str, experiment_id: str):
        self.client = client
        self.run_id = run_id
        self.experiment_id = experiment_id
        self._metrics: list[Metric] = []
        self._params: list[Param] = []
        self._tags: list[RunTag] = []
        self._staging = Path(tempfile.mkdtemp(prefix="fmnist-artifacts-"))

    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None:
        now = int(time.time() * 1000)
        self._metrics += [Metric(key, float(value), now, step) for key, value in metrics.items()]

    def log_metric_now(self, key: str, value: float, step: int) -> None:
        self.client.log_metric(self.run_id, key, float(value), step=step)

    def log_params(self, params: dict[str, str]) -> None:
        self._params += [Param(key, value) for key, value in params.items()]

    def set_tags(self, tags: dict[str, Any]) -> None:
        self._tags += [RunTag(key, str(value)) for key, value in tags.items()]

    def artifact_path(self, name: str) -> Path:
        """Return a staging path for an artifact file; write it before :meth:`flush`."""
        path = self._staging / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def log_text(self, text: str, name: str) -> None:
        self.artifact_path(name).write_text(text)

    def log_figure(self, figure, name: str) -> None:
        import matplotlib.pyplot as plt

        figure.savefig(self.artifact_path(name), dpi=100, bbox_inches="tight")
        plt.close(figure)

    def log_dataset(self, dataset, context: str) -> None:
        from mlflow.entities import DatasetInput, InputTag

        entity = DatasetInput(dataset._to_mlflow_entity(), [InputTag("mlflow.data.context", context)])
        self.client.log_inputs(self.run_id, [entity])

    def flush(self) -> None:
        """Write buffered values and staged files to the store."""
        self._write_batches()
        if any(self._staging.iterdir()):
            self.client.log_artifacts(self.run_id, str(self._staging))
            shutil.rmtree(self._staging)
            self._staging.mkdir()

    def _write_batches(self) -> None:
        # MLflow accepts at most 1000 metrics, 100 params and 100 tags per batch.
        metrics, params, tags = self._metrics, self._params, self._tags
        while metrics or params or tags:
            self.client.log_batch(self.run_id, metrics=metrics[:1000], params=params[:100], tags=tags[:100])
            metrics, params, tags = metrics[1000:], params[100:], tags[100:]
        self._metrics, self._params, self._tags = [], [], []

    def close(self) -> None:
        shutil.rmtree(self._staging, ignore_errors=True)


_finished_cache: dict[tuple[str, str], dict[str, str]] = {}


def _finished_hashes(client: MlflowClient, uri: str, experiment_id: str) -> dict[str, str]:
    key = (uri, experiment_id)
    if key not in _finished_cache:
        found: dict[str, str] = {}
        token = None
        while True:
            page = client.search_runs(
                [experiment_id], filter_string="attributes.status = 'FINISHED'", max_results=5000, page_token=token,
            )
            for run in page:
                if TAG_HASH in run.data.tags:
                    found.setdefault(run.data.tags[TAG_HASH], run.info.run_id)
            token = page.token
            if not token:
                break
        _finished_cache[key] = found
    return _finished_cache[key]


class Tracker:
    """Where a job's run goes: the store, the experiment and the run's identity.

    Creating a tracker checks that a tracking server answers, so that a dead server fails the
    command in seconds and before any data is loaded.
    """

    def __init__(self, cfg: DictConfig):
        self.cfg = cfg
        self.uri = resolve_uri(cfg.tracking.uri)
        configure_client(cfg.tracking.http_timeout_s, cfg.tracking.http_max_retries)
        check_reachable(self.uri, cfg.tracking.server_timeout_s)
        self.client = client_for(self.uri)
        self.experiment_id = ensure_experiment(self.client, self.uri, experiment_name(cfg))
        self.flat = cfg_params.flatten(cfg_params.run_sections(cfg))
        self.config_hash = cfg_params.config_hash(self.flat)

    def finished_run(self) -> str | None:
        """Return the id of a FINISHED run with this config's hash in the experiment, if any.

        The experiment's finished hashes are read once per process (one paged search), so the
        jobs of a sweep run in this process cost no query each. Runs that other processes
        finish later are not seen; at worst such a point is computed twice.
        """
        return _finished_hashes(self.client, self.uri, self.experiment_id).get(self.config_hash)

    @contextlib.contextmanager
    def start_run(self, run_name: str | None = None) -> Iterator[JobRun]:
        """Open the job's run and close it FINISHED, FAILED (with ``traceback.txt``) or KILLED."""
        cfg = self.cfg
        tags = {
            TAG_HASH: self.config_hash,
            TAG_PIPELINE: cfg.pipeline.name,
            TAG_PROTOCOL: cfg.data.protocol,
            TAG_HEARTBEAT: int(time.time()),
        }
        if cfg.tracking.parent_run_id:
            tags[TAG_PARENT] = cfg.tracking.parent_run_id
        if git_commit():
            tags["mlflow.source.git.commit"] = git_commit()
        run_info = self.client.create_run(
            self.experiment_id, run_name=cfg.tracking.run_name or run_name, tags=tags
        ).info
        run = JobRun(self.client, run_info.run_id, self.experiment_id)
        run.log_params(cfg_params.to_params(self.flat))
        run.log_metrics(cfg_params.numeric_values(self.flat))
        run.log_text(OmegaConf.to_yaml(cfg, resolve=True), "config.yaml")
        status = "FAILED"
        try:
            yield run
            status = "FINISHED"
        except KeyboardInterrupt:
            status = "KILLED"
            raise
        except BaseException:
            run.log_text(traceback.format_exc(), "traceback.txt")
            raise
        finally:
            try:
                run.flush()
            finally:
                self.client.set_terminated(run.run_id, status)
                if status == "FINISHED":
                    _finished_hashes(self.client, self.uri, self.experiment_id)[self.config_hash] = run.run_id
                run.close()
                log.info("Run %s %s", run.run_id, status)
