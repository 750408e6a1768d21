"""One MLflow run per job: created before the work, written in batches, closed with its status."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
import subprocess
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Iterator

from mlflow.tracking import MlflowClient
from omegaconf import DictConfig

from fmnist import runtime
from fmnist.config_yaml import to_yaml
from fmnist.track import params as cfg_params
from fmnist.track.record import RunRecord, created, send
from fmnist.track.store import (
    TrackingUnavailableError,
    check_reachable,
    client_for,
    configure_client,
    ensure_experiment,
    resolve_uri,
)

log = logging.getLogger(__name__)

TAG_HASH = "fmnist.config_hash"
TAG_PARENT = "mlflow.parentRunId"
TAG_DATA = "fmnist.data_digest"
TAG_PROTOCOL = "fmnist.protocol"
TAG_PIPELINE = "fmnist.pipeline"
TAG_HEARTBEAT = "fmnist.heartbeat"
TAG_HOST = "fmnist.host"
TAG_PID = "fmnist.pid"


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


# Seconds this process spent waiting on the tracking store, for the sweep's own accounting.
store_seconds = 0.0


@contextlib.contextmanager
def _store_call() -> Iterator[None]:
    global store_seconds
    start = time.perf_counter()
    try:
        yield
    finally:
        store_seconds += time.perf_counter() - start


def experiment_name(cfg: DictConfig) -> str:
    return cfg.tracking.experiment or f"fmnist-{cfg.pipeline.name}"


class JobRun:
    """The MLflow run of one job, with a local copy in the job's output folder.

    Metrics, params and tags are buffered and written with one ``log_batch`` call, and files
    are written to ``<folder>/artifacts`` and uploaded with one ``log_artifacts`` call,
    because separate calls cost several times more per run. :meth:`log_metric_now` writes at
    once, for curves that must be visible while a model trains. When the store fails, the
    run goes on offline and :meth:`finish` leaves ``mlflow_run.json`` for ``fmnist.runs resend``.
    """

    def __init__(self, client: MlflowClient, record: RunRecord, folder: Path, experiment_id: str):
        self.client = client
        self.record = record
        self.folder = folder
        self.experiment_id = experiment_id
        self.offline = record.run_id is None

    @property
    def run_id(self) -> str | None:
        return self.record.run_id

    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None:
        now = int(time.time() * 1000)
        self.record.unsent_metrics += [[key, float(value), now, step] for key, value in metrics.items()]

    def log_metric_now(self, key: str, value: float, step: int) -> None:
        row = [key, float(value), int(time.time() * 1000), step]
        if not self.offline:
            try:
                with _store_call():
                    self.client.log_metric(self.run_id, key, row[1], timestamp=row[2], step=step)
                return
            except Exception as error:  # any store failure: keep the value locally
                self._go_offline(error)
        self.record.unsent_metrics.append(row)

    def log_params(self, params: dict[str, str]) -> None:
        self.record.params.update(params)

    def set_tags(self, tags: dict[str, Any]) -> None:
        self.record.tags.update({key: str(value) for key, value in tags.items()})

    def artifact_path(self, name: str) -> Path:
        """Return the path to write artifact ``name`` to; it is uploaded when the run ends."""
        path = self.folder / "artifacts" / name
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

        if self.offline:
            return  # NOTE: dataset inputs are not kept in the local record, so resend omits them.
        entity = DatasetInput(dataset._to_mlflow_entity(), [InputTag("mlflow.data.context", context)])
        # Two processes that log the same new dataset at once race on MLflow's unique key for
        # datasets, and the loser gets an error. By then the dataset exists, so one retry links
        # it. A dataset input that still fails costs a warning, not the run.
        for attempt in (1, 2):
            try:
                with _store_call():
                    self.client.log_inputs(self.run_id, [entity])
                return
            except Exception as error:  # any store failure
                if attempt == 2:
                    log.warning("Could not log the dataset input of run %s (%s)", self.run_id,
                                str(error).splitlines()[0][:300])

    def finish(self, status: str) -> None:
        """Send what the store lacks and set ``status``; keep the local record either way."""
        self.record.status = status
        if not self.offline:
            try:
                with _store_call():
                    send(self.record, self.folder, self.client, self.experiment_id)
            except Exception as error:  # any store failure: the record keeps the results
                self._go_offline(error)
        self.record.save(self.folder)
        if self.offline:
            log.warning(
                "Run results kept in %s but not in the tracking store; send them later with "
                "`python -m fmnist.runs resend %s`", self.folder, self.folder,
            )

    def _go_offline(self, error: Exception) -> None:
        if not self.offline:
            log.warning("Tracking store %s failed (%s); continuing offline", self.record.tracking_uri,
                        str(error).splitlines()[0][:300])
        self.offline = True


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
    """The destination of a job's run: the store, the experiment and the run's identity.

    Creating a tracker checks that a tracking server responds, so that a dead server fails the
    command in seconds and before any data is loaded. With ``offline_ok`` (a job of a sweep
    that did reach the server) an unreachable server instead makes the job run offline: its
    results stay in the job folder for ``python -m fmnist.runs resend``.
    """

    def __init__(self, cfg: DictConfig, offline_ok: bool = False):
        self.cfg = cfg
        self.uri = resolve_uri(cfg.tracking.uri)
        self.flat = cfg_params.flatten(cfg_params.run_sections(cfg))
        self.config_hash = cfg_params.config_hash(self.flat)
        configure_client(cfg.tracking.http_timeout_s, cfg.tracking.http_max_retries)
        self.client = None
        self.experiment_id = None
        try:
            check_reachable(self.uri, cfg.tracking.server_timeout_s)
            self.client = client_for(self.uri)
            self.experiment_id = ensure_experiment(self.client, self.uri, experiment_name(cfg))
        except Exception as error:  # any store failure
            if not offline_ok:
                if isinstance(error, TrackingUnavailableError):
                    raise
                raise TrackingUnavailableError(f"tracking store {self.uri} failed: {error}") from error
            log.warning("Tracking store %s unreachable (%s); this job runs offline",
                        self.uri, str(error).splitlines()[0][:300])

    @property
    def offline(self) -> bool:
        return self.experiment_id is None

    def finished_run(self) -> str | None:
        """Return the id of a FINISHED run with this config's hash in the experiment, if any.

        The experiment's finished hashes are read once per process (one paged search), so the
        jobs of a sweep run in this process cost no query each. Runs that other processes
        finish later are not seen; at worst such a point is computed twice.
        """
        if self.offline:
            return None
        return _finished_hashes(self.client, self.uri, self.experiment_id).get(self.config_hash)

    @contextlib.contextmanager
    def start_run(self, run_name: str | None = None) -> Iterator[JobRun]:
        """Open the job's run and close it FINISHED, FAILED (with ``traceback.txt``) or KILLED."""
        cfg = self.cfg
        tags = {
            TAG_HASH: self.config_hash,
            TAG_PIPELINE: cfg.pipeline.name,
            TAG_PROTOCOL: cfg.data.protocol,
            TAG_HEARTBEAT: str(int(time.time())),
            TAG_HOST: socket.gethostname(),
            TAG_PID: str(os.getpid()),
        }

        if cfg.tracking.parent_run_id:
            tags[TAG_PARENT] = cfg.tracking.parent_run_id
        if git_commit():
            tags["mlflow.source.git.commit"] = git_commit()

        record = RunRecord(self.uri, experiment_name(cfg), cfg.tracking.run_name or run_name, tags=tags)
        if not self.offline:
            try:
                with _store_call():
                    created(record, self.client.create_run(self.experiment_id, run_name=record.run_name, tags=tags))
            except Exception as error:  # any store failure: compute anyway, keep results locally
                log.warning("Could not create the run in %s (%s); continuing offline", self.uri,
                            str(error).splitlines()[0][:300])

        run = JobRun(self.client, record, job_folder(), self.experiment_id)
        run.log_params(cfg_params.to_params(self.flat))
        run.log_metrics(cfg_params.numeric_values(self.flat))
        run.log_text(to_yaml(cfg, resolve=True), "config.yaml")

        status = "FAILED"
        try:
            yield run
            status = "FINISHED"
        except KeyboardInterrupt:
            status = "KILLED"
            raise
        except SystemExit:
            # Lightning turns Ctrl-C into sys.exit(1) after its own clean-up.
            status = "KILLED" if runtime.interrupted() else "FAILED"
            raise
        except BaseException:
            run.log_text(traceback.format_exc(), "traceback.txt")
            raise
        finally:
            run.finish(status)
            if status == "FINISHED" and run.run_id and not run.offline:
                _finished_hashes(self.client, self.uri, self.experiment_id)[self.config_hash] = run.run_id
            log.info("Run %s %s", run.run_id or "(offline)", status)


def job_folder() -> Path:
    """Return the job's Hydra output folder, or a new temporary folder outside Hydra."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.output_dir)
    return Path(tempfile.mkdtemp(prefix="fmnist-run-"))
