"""One terminal line per finished job: counts, elapsed time and an estimate of the time left."""

from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger("fmnist.progress")


def _progress_logger() -> logging.Logger:
    # Its own handler, so the line shows even when jobs set the console level to WARNING.
    if not log.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("[%(asctime)s][sweep] %(message)s", "%H:%M:%S"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    return log


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


class Progress:
    """Counts of finished, skipped and failed jobs, reported after each job."""

    def __init__(self, total: int):
        self.total = total
        self.finished = self.skipped = self.failed = 0
        self.start = time.monotonic()
        self.logger = _progress_logger()

    @property
    def done(self) -> int:
        return self.finished + self.skipped + self.failed

    def record(self, outcome: str, label: str, detail: str) -> None:
        """Count a job (``finished``, ``skipped`` or ``failed``) and print its line."""
        setattr(self, outcome, getattr(self, outcome) + 1)
        elapsed = time.monotonic() - self.start
        # The first jobs of a sweep compute what later jobs reuse, so an estimate from them
        # alone is far too long. The estimate waits for a tenth of the sweep.
        if self.done >= max(3, self.total // 10):
            left = "~" + _clock(elapsed / self.done * (self.total - self.done))
        else:
            left = "estimating time"
        self.logger.info(
            "%d/%d done, %d failed, %d skipped | %s elapsed, %s left | %s: %s",
            self.done, self.total, self.failed, self.skipped, _clock(elapsed), left, label, detail,
        )
