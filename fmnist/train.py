"""Entry point: ``python -m fmnist.train [overrides]`` runs one job, ``-m`` a sweep of jobs.

Each job validates its config, checks the tracking store, skips itself when a FINISHED run
with the same config hash exists, loads the data and runs the selected pipeline inside one
MLflow run.
"""

from __future__ import annotations

import logging
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig

from fmnist.config import ConfigError, validate
from fmnist.runtime import apply_threads, install_interrupt_handlers, job_label
from fmnist.track.run import Tracker
from fmnist.track.store import TrackingUnavailableError

log = logging.getLogger("fmnist.train")


@hydra.main(config_path="../conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> dict | None:
    install_interrupt_handlers()
    try:
        validate(cfg)
        # A sweep checked the store before its first job; later jobs survive an outage offline.
        tracker = Tracker(cfg, offline_ok=cfg.tracking.parent_run_id is not None)
    except (ConfigError, TrackingUnavailableError) as error:
        if HydraConfig.get().mode.name == "MULTIRUN":
            raise  # the sweeper counts it and reports it with the job's overrides
        log.error("%s", error)
        sys.exit(2)

    if cfg.tracking.skip_finished:
        previous = tracker.finished_run()
        if previous is not None:
            log.info("Skipped: run %s already finished this config (tracking.skip_finished=false reruns it)", previous)
            return {"skipped": previous}

    apply_threads(cfg.threads)
    pipeline = instantiate(cfg.pipeline.fn)
    with tracker.start_run(run_name=job_label(cfg)) as run:
        metrics = pipeline(cfg, run)
    return {**metrics, "run_id": run.run_id, "offline": run.offline, "folder": str(run.folder)}


if __name__ == "__main__":
    main()
