"""The report's HTML page: one self-contained file with every figure embedded as base64 PNG."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

from fmnist.report.section import Figure, Section

STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1400px; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f0f0f0; } caption { text-align: left; font-weight: bold; padding: 0.3em 0; }
figure { margin: 1em 0; } figure img { max-width: 100%; }
figcaption { font-size: 0.9em; color: #555; }
.gallery { display: flex; flex-wrap: wrap; gap: 1em; } .gallery figure { flex: 1 1 30%; margin: 0; }
.note { background: #fff8e0; border-left: 4px solid #e0b000; padding: 0.4em 0.8em; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; } dt { font-weight: bold; }
"""


def image(figure: Figure) -> str:
    data = base64.b64encode(Path(figure.path).read_bytes()).decode("ascii")
    caption = html.escape(figure.caption)
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{caption}">'
            f"<figcaption>{caption} ({html.escape(Path(figure.path).name)})</figcaption></figure>")


def table_html(frame: pd.DataFrame, title: str, csv_name: str) -> str:
    body = frame.to_html(index=False, na_rep="missing", float_format=lambda value: f"{value:.4g}",
                         border=0, escape=True)
    caption = f"<caption>{html.escape(title)} ({html.escape(csv_name)}, full precision)</caption>"
    return body.replace(">", ">" + caption, 1)


def render(title: str, facts: dict[str, str], sections: list[Section]) -> str:
    """Return the HTML page: a heading, a list of facts about the sweep, then the sections."""
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1><dl>"]
    parts += [f"<dt>{html.escape(key)}</dt><dd>{html.escape(str(value))}</dd>" for key, value in facts.items()]
    parts.append("</dl>")
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        parts += [f"<p class='note'>{html.escape(note)}</p>" for note in section.notes]
        parts += [image(figure) for figure in section.figures]
        parts += [table_html(table.frame, table.title, table.path.name) for table in section.tables]
        if section.gallery:
            parts.append("<div class='gallery'>" + "".join(image(figure) for figure in section.gallery) + "</div>")
    parts.append("</body></html>")
    return "\n".join(parts)
