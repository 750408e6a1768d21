"""Process settings shared by the entry points: thread counts and job labels."""

from __future__ import annotations

import os
import sys

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

# Overrides the sweeper adds to every job; they say nothing about the point itself.
_INTERNAL_OVERRIDES = ("tracking.parent_run_id",)


def apply_threads(threads: int | None) -> None:
    """Limit BLAS, OpenMP (faiss) and torch to ``threads`` threads; None keeps the defaults.

    With two cores, a job that uses both while another process holds one runs many times
    slower, so parallel launchers set ``threads=1`` per job.
    """
    if threads is None:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import faiss

    faiss.omp_set_num_threads(threads)
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(threads)


def job_label(cfg: DictConfig) -> str:
    """Return a short run name from the job's overrides, e.g. ``knn.k=5 pca.alpha=3``."""
    if HydraConfig.initialized():
        overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith(_INTERNAL_OVERRIDES)]
        if overrides:
            return " ".join(overrides)
    return cfg.pipeline.name
