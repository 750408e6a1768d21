"""The parent run that groups the jobs of one sweep in the MLflow UI."""

from __future__ import annotations

import hashlib
import json
import logging
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
        else:
            tags = {TAG_SWEEP_HASH: sweep_hash, TAG_IS_SWEEP: "true", TAG_PIPELINE: first_job.pipeline.name,
                    "fmnist.sweep_dir": str(sweep_dir.resolve()), "fmnist.n_jobs": str(len(jobs))}
            if git_commit():
                tags["mlflow.source.git.commit"] = git_commit()
            name = "sweep " + " ".join(sorted({o.split("=")[0] for job in jobs for o in job}))
            run_id = client.create_run(tracker.experiment_id, run_name=name, tags=tags).info.run_id
        return cls(tracker, run_id)

    def close(self, progress, status: str) -> None:
        """Log the job counts on the parent run and set its status."""
        client = self.tracker.client
        for key in ("finished", "skipped", "failed"):
            client.log_metric(self.run_id, f"jobs_{key}", getattr(progress, key))
        client.set_terminated(self.run_id, status)
