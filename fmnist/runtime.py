"""Process settings shared by the entry points: thread counts and job labels."""

from __future__ import annotations

import os
import signal
import threading
import sys

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

# Overrides that set where a run goes, not what it computes, so run names leave them out.
_INTERNAL_OVERRIDES = ("tracking.", "hydra.")


def apply_threads(threads: int | None) -> None:
    """Limit BLAS, OpenMP (faiss) and torch to ``threads`` threads; None keeps the defaults.

    With two cores, a job that uses both while another process uses one runs many times
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


_interrupted = False


def _raise_interrupt(signum, _frame) -> None:
    global _interrupted
    _interrupted = True
    raise KeyboardInterrupt(f"received {signal.Signals(signum).name}")


def install_interrupt_handlers() -> None:
    """Turn SIGINT and SIGTERM into KeyboardInterrupt and remember that one arrived.

    Runs interrupted this way end KILLED rather than RUNNING (SIGTERM's default would end
    the process without clean-up) or FAILED (Lightning exits with status 1 after Ctrl-C).
    Only the main thread can install handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _raise_interrupt)


def interrupted() -> bool:
    """Tell whether SIGINT or SIGTERM arrived since :func:`install_interrupt_handlers`."""
    return _interrupted
