"""Expanding the sweep arguments of the command line into one override list per job."""

from __future__ import annotations

import itertools
from typing import Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException

ELLIPSIS = "..."


class SweepSyntaxError(HydraException):
    """A sweep argument that cannot be expanded into a list of values."""


def expand_ellipsis(override: Override, values: list) -> list:
    """Expand ``a,b,...,z`` into the arithmetic progression a, b, ..., z (step b - a).

    ``knn.k=1,3,...,49`` gives 1, 3, 5, ..., 49. The ellipsis must stand between two
    integers after at least two, and the last value must be reachable by the step.
    """
    if ELLIPSIS not in values:
        return values
    line = override.input_line
    position = values.index(ELLIPSIS)
    if values.count(ELLIPSIS) > 1 or position < 2 or position != len(values) - 2:
        raise SweepSyntaxError(
            f"{line}: '...' must stand once between the first terms and the last value, "
            "as in knn.k=1,3,...,49"
        )
    head, last = values[:position], values[-1]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in head + [last]):
        raise SweepSyntaxError(f"{line}: '...' expands integer lists only, as in knn.k=1,3,...,49")
    step = head[1] - head[0]
    if step == 0 or any(b - a != step for a, b in zip(head, head[1:])):
        raise SweepSyntaxError(f"{line}: the terms before '...' must have a constant non-zero step")
    if (last - head[0]) % step != 0 or (last - head[-1]) * step <= 0:
        raise SweepSyntaxError(
            f"{line}: {last} is not reached from {head[0]} in steps of {step}; "
            f"use range({head[0]},{last + (1 if step > 0 else -1)},{step}) or fix the last value"
        )
    return list(range(head[0], last + (1 if step > 0 else -1), step))


def job_overrides(arguments: Sequence[str], parser: OverridesParser) -> list[list[str]]:
    """Return the cartesian product of the sweep arguments as one override list per job.

    Raises
    ------
    SweepSyntaxError
        For ``sort(range(...))``: Hydra 1.3 returns wrong values for it
        (``sort(range(1,10,2),reverse=true)`` gives 8,6,4,2,0), so it is rejected.
    """
    per_key: list[list[str]] = []
    for override in parser.parse_overrides(list(arguments)):
        key = override.get_key_element()
        line = override.input_line or ""
        if "sort(" in line.replace(" ", "") and "range(" in line:
            raise SweepSyntaxError(
                f"{line}: sort(range(...)) returns wrong values in Hydra 1.3 "
                "(sort(range(1,10,2),reverse=true) gives 8,6,4,2,0). Write the range in the "
                "order you want instead, e.g. range(1,50,2) or range(49,0,-2)."
            )
        if not override.is_sweep_override():
            per_key.append([f"{key}={override.get_value_element_as_str()}"])
            continue
        if not override.is_discrete_sweep():
            raise SweepSyntaxError(f"{line}: the fmnist sweeper runs lists and range() sweeps only")
        strings = list(override.sweep_string_iterator())
        if ELLIPSIS in strings:
            raw = [ELLIPSIS if s == ELLIPSIS else v for s, v in zip(strings, override.value().list)]
            strings = [str(v) for v in expand_ellipsis(override, raw)]
        per_key.append([f"{key}={value}" for value in strings])
    return [list(job) for job in itertools.product(*per_key)]
