"""Reuse of expensive results across the jobs of a sweep, in memory and on disk.

A sweep over k and alpha repeats the same work. One PCA fit serves every alpha, because the
first alpha components of a fit with more components are the alpha-component fit. One
neighbour search per alpha at the largest k serves every k. The sweep launcher publishes the
values each key takes across the sweep (:func:`set_plan`), so a job can compute at the
largest value once. Results are kept in memory for the process, and on disk for later
processes as ``.npz`` files keyed by content digests and :data:`CACHE_VERSION` (a digest of
fmnist's source).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from fmnist import __version__

log = logging.getLogger(__name__)

def _code_digest() -> str:
    """Return a digest of fmnist's own source files.

    Cached results are keyed by it, so any change to the code (an upgrade, a local edit)
    starts a fresh cache instead of reading entries in an older layout.
    """
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


CACHE_VERSION = _code_digest()

_plan: dict[str, list] = {}
_memory: dict[str, dict[str, np.ndarray]] = {}
_MEMORY_ENTRIES = 128


def set_plan(values: dict[str, list]) -> None:
    """Publish the values each config key takes in the running sweep."""
    _plan.clear()
    _plan.update(values)


def plan_max(key: str, default: int) -> int:
    """Return the largest value ``key`` takes in the running sweep, or ``default`` outside one."""
    values = [v for v in _plan.get(key, []) if isinstance(v, (int, float))]
    return int(max(values + [default]))


def default_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fmnist" / "compute"


def cache_folder(cache) -> Path | None:
    """Return the disk cache folder the ``cache`` config section selects, or None when disabled."""
    if not cache.enabled:
        return None
    return Path(cache.dir).expanduser() if cache.dir else default_dir()


def cached(
    key: tuple,
    compute: Callable[[], dict[str, np.ndarray]],
    folder: Path | None,
) -> tuple[dict[str, np.ndarray], bool]:
    """Return ``compute()``'s arrays for ``key`` and whether they were reused.

    Parameters
    ----------
    key : tuple
        Everything the result depends on (data digest, settings); hashed with CACHE_VERSION.
    compute : callable
        Produces a dict of arrays (timings as 0-d arrays).
    folder : Path, optional
        Disk cache folder; None keeps results in memory only.
    """
    name = hashlib.sha256(repr((CACHE_VERSION,) + key).encode()).hexdigest()[:32]
    if name in _memory:
        return _memory[name], True
    path = folder / f"{name}.npz" if folder is not None else None
    if path is not None and path.exists():
        try:
            with np.load(path) as stored:
                result = {k: stored[k] for k in stored.files}
            os.utime(path)  # recently used files survive trimming
            _remember(name, result)
            return result, True
        except (OSError, ValueError) as error:
            log.warning("Ignoring unreadable cache file %s (%s)", path, error)
    result = compute()
    _remember(name, result)
    if path is not None:
        _write_atomic(path, result)
    return result, False


def _remember(name: str, result: dict[str, np.ndarray]) -> None:
    if len(_memory) >= _MEMORY_ENTRIES:
        _memory.pop(next(iter(_memory)))
    _memory[name] = result


def _write_atomic(path: Path, result: dict[str, np.ndarray]) -> None:
    # Parallel writers each write a private temporary file; the rename is atomic, so readers
    # see either no file or a complete one.
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            np.savez(out, **result)
        os.replace(temporary, path)
    except OSError as error:
        log.warning("Could not write cache file %s (%s)", path, error)
        Path(temporary).unlink(missing_ok=True)


def trim(folder: Path, max_bytes: int) -> int:
    """Delete the least recently used cache files until ``folder`` is under ``max_bytes``.

    Returns the number of bytes freed.
    """
    if not folder.is_dir():
        return 0
    files = sorted(folder.glob("*.npz"), key=lambda p: p.stat().st_mtime)
    total = sum(p.stat().st_size for p in files)
    freed = 0
    for path in files:
        if total - freed <= max_bytes:
            break
        size = path.stat().st_size
        path.unlink(missing_ok=True)
        freed += size
    return freed


def timed(function: Callable, *args) -> tuple[object, float]:
    """Call ``function(*args)`` and return its result and the seconds it took."""
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start
