"""The ``fmnist`` sweeper: validates every job first, groups the jobs under one parent run,
keeps going when a job fails and ends with a one-line summary.

Before the first job starts it composes and checks the config of every job, so a bad value
in the middle of a sweep list is reported before any work. Jobs that raise are counted and
reported; the command exits with status 1 when any job failed.
"""


import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from hydra_plugins.fmnist_sweeper.compose import JobComposer
from hydra_plugins.fmnist_sweeper.launcher import FmnistLauncher, _visible, describe
from hydra_plugins.fmnist_sweeper.progress import Progress
from hydra_plugins.fmnist_sweeper.sweep_args import SweepSyntaxError, job_overrides

log = logging.getLogger(__name__)

# Keys whose largest value across the sweep lets jobs share work (see fmnist.reuse).
PLAN_KEYS = ("pca.alpha", "knn.k")


@dataclass
class FmnistSweeperConf:
    _target_: str = "hydra_plugins.fmnist_sweeper.sweeper.FmnistSweeper"
    # Jobs handed to the launcher at once; parallel launchers run a batch concurrently.
    max_batch_size: Optional[int] = None
    # Sweep arguments always added, as in Hydra's basic sweeper.
    params: Optional[dict[str, str]] = None


ConfigStore.instance().store(group="hydra/sweeper", name="fmnist", node=FmnistSweeperConf, provider="fmnist")


class FmnistSweeper(Sweeper):
    def __init__(self, max_batch_size: Optional[int] = None, params: Optional[dict[str, str]] = None):
        self.max_batch_size = max_batch_size
        self.params = params or {}
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.launcher = None
        # Seconds spent composing and checking every job's config before the first job starts.
        self.validate_seconds = 0.0

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> Any:
        from fmnist import reuse, runtime
        from fmnist.track.store import TrackingUnavailableError
        from fmnist.track.sweep import SweepRun

        assert self.config is not None and self.hydra_context is not None
        runtime.install_interrupt_handlers()
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        try:
            jobs = job_overrides([f"{k}={v}" for k, v in self.params.items()] + list(arguments), parser)
        except SweepSyntaxError as error:
            log.error("No job started: %s", error)
            sys.exit(2)
        validate_start = time.perf_counter()
        first, plan = self._validate_all(jobs)
        self.validate_seconds = time.perf_counter() - validate_start
        reuse.set_plan(plan)

        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        os.environ.setdefault("FMNIST_CONSOLE_LEVEL", "WARNING")

        try:
            parent = SweepRun.open(first, jobs, sweep_dir)
        except TrackingUnavailableError as error:
            log.error("No job started: %s", error)
            sys.exit(2)
        jobs = [job + [f"tracking.parent_run_id={parent.run_id}"] for job in jobs]
        log.info("Sweep of %d jobs, parent run %s (experiment %s)", len(jobs), parent.run_id, parent.experiment_name)

        progress = Progress(len(jobs))
        try:
            results, failures, offline = self._launch_all(jobs, progress)
        except (KeyboardInterrupt, SystemExit) as stop:
            if isinstance(stop, SystemExit) and not runtime.interrupted():
                raise
            self._report_interrupt(jobs, progress, parent)
            sys.exit(130)

        if offline:
            log.warning("%d finished jobs could not reach the tracking store; their results are in "
                        "their job folders. Send them with: python -m fmnist.runs resend %s",
                        len(offline), sweep_dir)
        parent.close(progress, status="FAILED" if failures else "FINISHED", costs=self._costs(progress))
        if first.report.auto:
            from fmnist.report.build import report_after_sweep

            report_after_sweep(parent.tracker.client, parent.run_id, sweep_dir / "report")
        summary = (f"Sweep finished: {progress.finished} finished, {progress.skipped} skipped, "
                   f"{progress.failed} failed of {len(jobs)} jobs (parent run {parent.run_id})")
        cache_dir = reuse.cache_folder(first.cache)
        if cache_dir is not None:
            reuse.trim(cache_dir, first.cache.max_bytes)
        if failures or offline:
            for line in failures:
                log.error("Failed job: %s", line)
            if offline:
                summary += f"; {len(offline)} not in the tracking store yet (resend them, see above)"
            log.error("%s", summary)
            sys.exit(1)
        log.info("%s", summary)
        return results

    def _launch_all(self, jobs: list[list[str]], progress: Progress) -> tuple[list, list[str], list[str]]:
        """Hand the jobs to the launcher in batches.

        Returns the launcher's results, one line per failed job, and the folders of jobs that
        finished offline (the tracking store failed during the job).
        """
        keys = [o.split("=", 1)[0] for o in jobs[0]]
        varying = {key for position, key in enumerate(keys) if len({job[position] for job in jobs}) > 1}
        if isinstance(self.launcher, FmnistLauncher):
            self.launcher.progress = progress
            self.launcher.varying_keys = varying
        batch_size = self.max_batch_size or len(jobs)
        results, failures, offline = [], [], []
        for start in range(0, len(jobs), batch_size):
            batch = jobs[start : start + batch_size]
            batch_results = self.launcher.launch(batch, initial_job_idx=start)
            for overrides, result in zip(batch, batch_results):
                outcome, detail = describe(result)
                if not isinstance(self.launcher, FmnistLauncher):
                    progress.record(outcome, " ".join(_visible(overrides, varying)), detail)
                if outcome == "failed":
                    failures.append(f"{' '.join(_visible(overrides))}: {detail}")
                value = result._return_value
                if isinstance(value, dict) and value.get("offline"):
                    offline.append(value["folder"])
            results.append(batch_results)
        return results, failures, offline

    def _costs(self, progress: Progress) -> dict[str, float]:
        """Return where the sweep's time went, for the parent run (in-process launcher only)."""
        from fmnist.track import run as tracked_run
        from hydra_plugins.fmnist_sweeper import job

        costs = {"sweep/wall_s": time.monotonic() - progress.start}
        if isinstance(self.launcher, FmnistLauncher):
            costs["sweep/jobs_s"] = self.launcher.job_seconds
            costs["sweep/validate_s"] = self.validate_seconds
            costs["sweep/hydra_s"] = self.validate_seconds + self.launcher.job_seconds - job.task_seconds
            costs["sweep/store_s"] = tracked_run.store_seconds
        return costs

    @staticmethod
    def _report_interrupt(jobs: list[list[str]], progress: Progress, parent) -> None:
        parent.close(progress, status="KILLED")
        not_started = jobs[progress.done + 1 :]
        log.error(
            "Interrupted after %d of %d jobs; the running job's run is KILLED, finished runs are kept. "
            "%d jobs not started. Rerun the same command to run only what is missing.",
            progress.done, len(jobs), len(not_started),
        )
        for overrides in not_started[:20]:
            log.error("  not started: %s", " ".join(_visible(overrides)))
        if len(not_started) > 20:
            log.error("  ... and %d more", len(not_started) - 20)

    def _validate_all(self, jobs: list[list[str]]) -> tuple[DictConfig, dict[str, list]]:
        """Check every job's config; exit with status 2 listing every bad job.

        Returns the first job's config and the values each reusable key takes in the sweep.
        """
        from fmnist.config import validate

        # With the fmnist launcher, its own composer validates, so the jobs reuse the parsed
        # lines and the compositions.
        if isinstance(self.launcher, FmnistLauncher) and self.launcher.composer is not None:
            composer = self.launcher.composer
        else:
            composer = JobComposer(self.hydra_context, self.config)
        problems = []
        plan: dict[str, set] = {key: set() for key in PLAN_KEYS}
        for overrides in jobs:
            try:
                config = composer.compose(overrides, scratch=True)
                validate(config)
                for key in PLAN_KEYS:
                    plan[key].add(OmegaConf.select(config, key))
            except Exception as error:  # composition, type and range errors alike: listed, then exit
                problems.append(f"  job {' '.join(overrides)}: {str(error).splitlines()[0]}")
        if problems:
            shown = problems[:10] + ([f"  ... and {len(problems) - 10} more"] if len(problems) > 10 else [])
            log.error("No job started: %d of %d jobs have invalid configs:\n%s", len(problems), len(jobs), "\n".join(shown))
            sys.exit(2)
        return composer.compose(jobs[0]), {key: sorted(values - {None}) for key, values in plan.items()}
