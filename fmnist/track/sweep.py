"""The parent run that groups the jobs of one sweep in the MLflow UI."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

from omegaconf import DictConfig

from fmnist.track.run import TAG_PIPELINE, Tracker, experiment_name, git_commit

log = logging.getLogger(__name__)

TAG_SWEEP_HASH = "fmnist.sweep_hash"
TAG_IS_SWEEP = "fmnist.sweep"


class SweepRun:
    """The parent run of a sweep; the same sweep run again reopens the same parent run."""

    def __init__(self, tracker: Tracker, run_id: str):
        self.tracker = tracker
        self.run_id = run_id
        self.experiment_name = experiment_name(tracker.cfg)

    @classmethod
    def open(cls, first_job: DictConfig, jobs: list[list[str]], sweep_dir: Path) -> "SweepRun":
        """Find the parent run of this sweep (same job list, same experiment) or create it."""
        tracker = Tracker(first_job)
        sweep_hash = hashlib.sha256(json.dumps(sorted(map(sorted, jobs))).encode()).hexdigest()[:16]
        client = tracker.client
        existing = client.search_runs(
            [tracker.experiment_id], filter_string=f"tags.`{TAG_SWEEP_HASH}` = '{sweep_hash}'", max_results=1
        )
        if existing:
            run_id = existing[0].info.run_id
            client.update_run(run_id, status="RUNNING")
            log.info("Resuming sweep under parent run %s", run_id)
            from fmnist.track.stale import find_stale, mark_killed

            mark_killed(client, find_stale(client, [tracker.experiment_id], older_than_s=3600, parent_run_id=run_id))
        else:
            tags = {TAG_SWEEP_HASH: sweep_hash, TAG_IS_SWEEP: "true", TAG_PIPELINE: first_job.pipeline.name,
                    "fmnist.sweep_dir": str(sweep_dir.resolve()), "fmnist.n_jobs": str(len(jobs))}
            if git_commit():
                tags["mlflow.source.git.commit"] = git_commit()
            name = "sweep " + " ".join(sorted({o.split("=")[0] for job in jobs for o in job}))
            run_id = client.create_run(tracker.experiment_id, run_name=name, tags=tags).info.run_id
        return cls(tracker, run_id)

    def close(self, progress, status: str, costs: dict[str, float] | None = None) -> None:
        """Log the job counts (and ``costs``) on the parent run and set its status.

        A store failure here is logged as a warning: the jobs' own runs and records matter more.
        """
        from mlflow.entities import Metric

        client = self.tracker.client
        now = int(time.time() * 1000)
        counts = [Metric(f"jobs_{key}", getattr(progress, key), now, 0) for key in ("finished", "skipped", "failed")]
        counts += [Metric(key, value, now, 0) for key, value in (costs or {}).items()]
        try:
            client.log_batch(self.run_id, metrics=counts)
            client.set_terminated(self.run_id, status)
        except Exception as error:  # the jobs' own runs and records are what matter
            log.warning("Could not close parent run %s (%s); rerun the sweep to close it",
                        self.run_id, str(error).splitlines()[0][:300])
