"""Entry point: ``python -m fmnist.report sweep=<parent run id|latest> out=<folder>``."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from fmnist.report.build import build_report
from fmnist.report.store import SweepNotFoundError
from fmnist.track.store import TrackingUnavailableError, check_reachable, client_for, configure_client, resolve_uri

log = logging.getLogger("fmnist.report")


@hydra.main(config_path="../../conf", config_name="report", version_base="1.3")
def main(cfg: DictConfig) -> None:
    tracking = cfg.tracking
    uri = resolve_uri(tracking.uri)
    configure_client(tracking.http_timeout_s, tracking.http_max_retries)
    try:
        check_reachable(uri, tracking.server_timeout_s)
        client = client_for(uri)
        sweep = str(cfg.sweep)
        out = Path(cfg.out) if cfg.out else None
        if out is None:
            from fmnist.report.store import find_sweep

            out = Path("reports") / find_sweep(client, sweep, cfg.experiment).info.run_id
        page = build_report(client, sweep, out, experiment=cfg.experiment, log_artifacts=cfg.log_artifacts)
    except (SweepNotFoundError, TrackingUnavailableError) as error:
        log.error("%s", error)
        sys.exit(2)
    print(page.resolve())


if __name__ == "__main__":
    main()
