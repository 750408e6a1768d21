"""The ``fmnist`` launcher: runs the jobs of a sweep one after another in this process.

Unlike Hydra's basic launcher it composes job configs through :class:`JobComposer` and keeps
the process warm between jobs, so data, PCA fits and neighbour lists are reused (see
``fmnist.reuse``). Every job still gets its own output folder, saved config and MLflow run.
"""


import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict, read_write

from hydra_plugins.fmnist_sweeper.compose import JobComposer
from hydra_plugins.fmnist_sweeper.job import run_sweep_job
from hydra_plugins.fmnist_sweeper.progress import Progress

log = logging.getLogger(__name__)


@dataclass
class FmnistLauncherConf:
    _target_: str = "hydra_plugins.fmnist_sweeper.launcher.FmnistLauncher"


ConfigStore.instance().store(group="hydra/launcher", name="fmnist", node=FmnistLauncherConf, provider="fmnist")


def describe(result: JobReturn) -> tuple[str, str]:
    """Return the outcome of a job (finished, skipped, failed) and a short detail."""
    if result.status == JobStatus.FAILED:
        error = result._return_value
        return "failed", f"{type(error).__name__}: {error}".splitlines()[0][:300]
    value = result._return_value
    if isinstance(value, dict) and "skipped" in value:
        return "skipped", f"skipped, run {value['skipped']} already finished"
    if isinstance(value, dict) and value.get("offline"):
        return "finished", f"kept in {value['folder']} only: the tracking store failed"
    if isinstance(value, dict) and "accuracy" in value:
        return "finished", f"accuracy {value['accuracy']:.4f}"
    return "finished", "finished"


class FmnistLauncher(Launcher):
    def __init__(self) -> None:
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.task_function: TaskFunction | None = None
        self.composer: JobComposer | None = None
        self.progress: Progress | None = None
        # Seconds spent in jobs, Hydra's share (composing, job folders, logging) included.
        self.job_seconds = 0.0
        # Keys that take more than one value in the sweep; progress lines show only these.
        self.varying_keys: set[str] | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function
        self.composer = JobComposer(hydra_context, config)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        setup_globals()
        assert self.config is not None and self.composer is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        progress = self.progress or Progress(len(job_overrides))
        results = []
        for offset, overrides in enumerate(job_overrides):
            index = initial_job_idx + offset
            job_start = time.perf_counter()
            # run_sweep_job keeps only copies of the config, so one scratch config can serve
            # every job (see JobComposer.compose).
            config = self.composer.compose(overrides, scratch=True)
            with read_write(config.hydra), open_dict(config.hydra):
                config.hydra.job.id = index
                config.hydra.job.num = index
            result = run_sweep_job(self.hydra_context, self.task_function, config)
            self.job_seconds += time.perf_counter() - job_start
            results.append(result)
            outcome, detail = describe(result)
            progress.record(outcome, f"#{index} " + " ".join(_visible(overrides, self.varying_keys)), detail)
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        return results


def _visible(overrides: Sequence[str], keys: set[str] | None = None) -> list[str]:
    """Return the overrides worth showing: not hydra's, not internal, in ``keys`` when given."""
    shown = [o for o in filter_overrides(overrides) if not o.startswith("tracking.parent_run_id=")]
    if keys:
        shown = [o for o in shown if o.split("=", 1)[0] in keys]
    return shown
