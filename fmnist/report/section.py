"""The parts of a report: sections of figures, tables and notes, written as PNG and CSV files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


@dataclass
class Figure:
    """A PNG file of the report, with the caption shown under it."""

    path: Path
    caption: str


@dataclass
class Table:
    """A table of the report, also written as a CSV file."""

    title: str
    frame: pd.DataFrame
    path: Path


@dataclass
class Section:
    """One part of the page: a heading, then notes, figures, tables and the gallery in that order."""

    title: str
    notes: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    # Figures shown side by side in one row (embedding scatter plots).
    gallery: list[Figure] = field(default_factory=list)


class Writer:
    """Writes the figures and tables of one report into its folder, each file once."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def figure(self, figure, name: str, caption: str) -> Figure:
        """Save a matplotlib figure as ``<name>.png`` (100 dpi) and close it.

        Figures set their own layout (``layout="constrained"``) because ``bbox_inches="tight"``
        draws every figure twice.
        """
        import matplotlib.pyplot as plt

        path = self.folder / f"{name}.png"
        figure.savefig(path, dpi=100)
        plt.close(figure)
        return Figure(path, caption)

    def table(self, frame: pd.DataFrame, name: str, title: str) -> Table:
        """Save ``frame`` as ``<name>.csv`` with full precision."""
        path = self.folder / f"{name}.csv"
        frame.to_csv(path, index=False)
        return Table(title, frame, path)


def pyplot():
    """Return matplotlib.pyplot on the Agg backend, which needs no display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def column(table: pd.DataFrame, key: str) -> pd.Series:
    """Return ``table[key]``, or a column of NaN when no run logged ``key``."""
    if key in table:
        return pd.to_numeric(table[key], errors="coerce")
    return pd.Series(float("nan"), index=table.index)


def finished(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["status"] == "FINISHED"]


def not_finished_note(table: pd.DataFrame) -> list[str]:
    """Return a note listing the runs that did not finish, or nothing when all did."""
    bad = table[table["status"] != "FINISHED"]
    if bad.empty:
        return []
    names = ", ".join(f"{row.run_name} ({row.status})" for row in bad.head(10).itertuples())
    more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
    return [f"{len(bad)} of {len(table)} runs did not finish and are left out or marked missing: {names}{more}."]
