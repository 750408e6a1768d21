"""Running one job of a sweep in this process, for the ``fmnist`` launcher.

It does for a job what ``hydra.core.utils.run_job`` does: the output folder, Hydra's runtime
config, per-job logging, the saved config, ``env_set``, callbacks, and a JobReturn that
carries the task's exception instead of raising it.

It copies the config once, for the task, where ``run_job`` makes three copies. The job's
config itself serves as Hydra's runtime config (``HydraConfig.get()`` reads its ``hydra``
node). So a JobReturn's ``hydra_cfg`` is the job's own while the job and its callbacks run,
and a later job with the same group choices reuses and changes it.

Only ``config.yaml`` and ``overrides.yaml`` are saved per job, written with libyaml. The
sweep's whole Hydra config is in ``multirun.yaml`` at the sweep folder's root. In a 625-job
sweep the copies and a per-job ``hydra.yaml`` cost more than all the reused computation.
"""

import os
import time
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobRuntime, JobStatus, _flush_loggers, configure_log, env_override
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from fmnist.config_yaml import to_yaml


# Seconds spent inside task functions in this process; the rest of a job's time is Hydra's.
task_seconds = 0.0


def run_sweep_job(hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> JobReturn:
    """Run ``task_function`` on ``config`` as one sweep job.

    ``config`` is changed (job folder, runtime values); the task and the returned JobReturn
    get copies, so the caller may reuse ``config`` for the next job.
    """
    callbacks = hydra_context.callbacks
    previous_hydra_cfg = HydraConfig.instance().cfg
    output_dir = Path(str(config.hydra.sweep.dir)) / str(OmegaConf.select(config, "hydra.sweep.subdir"))
    with read_write(config.hydra.runtime), open_dict(config.hydra.runtime):
        config.hydra.runtime.output_dir = str(output_dir.resolve())
    # HydraConfig.set_config does this too, but also copies the hydra node (about 2 ms a job).
    OmegaConf.set_readonly(config.hydra, True)
    HydraConfig.instance().cfg = config
    hydra_cfg = config

    task_keys = [key for key in config.keys() if key != "hydra"]
    task_cfg = OmegaConf.masked_copy(config, task_keys)
    OmegaConf.set_struct(task_cfg, True)
    chdir = bool(hydra_cfg.hydra.job.chdir)
    old_cwd = os.getcwd()
    result = JobReturn(cfg=task_cfg, hydra_cfg=hydra_cfg, overrides=list(config.hydra.overrides.task))
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        if chdir:
            os.chdir(output_dir)
        result.working_dir = os.getcwd()
        configure_log(config.hydra.job_logging, config.hydra.verbose)
        if config.hydra.output_subdir is not None:
            saved = output_dir / str(config.hydra.output_subdir)
            saved.mkdir(parents=True, exist_ok=True)
            (saved / "config.yaml").write_text(to_yaml(task_cfg), encoding="utf-8")
            (saved / "overrides.yaml").write_text(to_yaml(config.hydra.overrides.task), encoding="utf-8")

        with env_override(hydra_cfg.hydra.job.env_set):
            callbacks.on_job_start(config=config, task_function=task_function)
            global task_seconds
            start = time.perf_counter()
            try:
                result.return_value = task_function(task_cfg)
                result.status = JobStatus.COMPLETED
            except Exception as error:  # kept in the JobReturn, as Hydra's run_job does
                result.return_value = error
                result.status = JobStatus.FAILED
            finally:
                task_seconds += time.perf_counter() - start
        result.task_name = JobRuntime.instance().get("name")
        _flush_loggers()
        callbacks.on_job_end(config=config, job_return=result)
        return result
    finally:
        HydraConfig.instance().cfg = previous_hydra_cfg
        if chdir:
            os.chdir(old_cwd)
