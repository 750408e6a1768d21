"""Support for the launcher presets in ``conf/hydra/launcher``: resolvers.

Hydra imports every module under ``hydra_plugins`` when it discovers plugins, so this
package registers its resolvers before any config is resolved. Hydra's joblib and submitit
launchers copy the registered resolvers into each job process with the rest of Hydra's
global state.
"""

from __future__ import annotations

from omegaconf import OmegaConf



def gpu_for_job(job_num: int | str, gpus: int | str) -> str:
    """Return the GPU that job ``job_num`` runs on, cycling through ``gpus``.

    Parameters
    ----------
    job_num
        The job's number in the sweep (``${hydra:job.num}``).
    gpus
        Comma-separated GPU indices, e.g. ``"0,1,2,3"``, or one index.

    Returns
    -------
    str
        One GPU index, the value for ``CUDA_VISIBLE_DEVICES``.
    """
    indices = [part.strip() for part in str(gpus).split(",") if part.strip()]
    if not indices:
        raise ValueError(f"gpus={gpus!r} is invalid: give comma-separated GPU indices such as '0,1'")
    return indices[int(job_num) % len(indices)]


def count_items(values: int | str) -> int:
    """Return the number of comma-separated items in ``values`` (``"0,1,2"`` gives 3)."""
    return len([part for part in str(values).split(",") if part.strip()])


OmegaConf.register_new_resolver("fmnist.gpu_for_job", gpu_for_job, replace=True)
OmegaConf.register_new_resolver("fmnist.count", count_items, replace=True)
