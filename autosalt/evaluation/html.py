"""Self-contained HTML reports: inline CSS, plots embedded as base64 PNG, no scripts.

A report opens offline in any browser and can be mailed as one file. Plots are drawn
with matplotlib's Agg backend (no display needed) and also saved next to the report.

Every page is a sequence of the same few blocks (heading, paragraph, list, caveat box, table,
figure), built by :class:`HtmlReport`, which escapes every piece of text in one place. No
template engine (Jinja2): it would add two packages and a template per page, while which
blocks a page has and in what order still comes from the code that computes them.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (backend must be chosen first)

from autosalt.fileio import format_cell, write_bytes_atomic, write_text_atomic  # noqa: E402

_STYLE = """
body { font-family: Georgia, 'Times New Roman', serif; max-width: 980px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.7em; border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { font-size: 1.3em; margin-top: 1.6em; border-bottom: 1px solid #bbb; }
h3 { font-size: 1.1em; }
table { border-collapse: collapse; margin: .8em 0; font-family: Helvetica, Arial, sans-serif;
        font-size: .88em; }
th, td { border-top: 1px solid #999; border-bottom: 1px solid #999; padding: .25em .6em;
         text-align: right; }
th { background: #f0f0f0; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; text-align: center; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: .9em; color: #444; text-align: left; }
.wide { overflow-x: auto; }
.note { background: #fff8e0; border-left: 4px solid #e0b000; padding: .4em .8em; }
.caveat { background: #fff8e0; border: 1px solid #e0b000; border-left: 6px solid #e0b000;
          padding: .3em 1em; margin: 1em 0; }
.caveat h2 { font-size: 1.05em; border: none; margin: .4em 0; }
.caveat ul { margin: .3em 0 .5em; padding-left: 1.2em; }
td.text, th.text { text-align: left; max-width: 28em; }
.small { font-size: .85em; color: #555; }
"""


def save_figure(figure: plt.Figure, path: str | Path | None = None, dpi: int = 110) -> bytes:
    """Render ``figure`` to PNG bytes (writing them to ``path`` when given) and close it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    data = buffer.getvalue()
    if path is not None:
        write_bytes_atomic(path, data)
    return data


class HtmlReport:
    """Builds one HTML page from headings, paragraphs, tables and images, in order."""

    def __init__(self, title: str):
        self.title = title
        self._parts: list[str] = [f"<h1>{html.escape(title)}</h1>"]

    def heading(self, text: str, level: int = 2) -> None:
        self._parts.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def paragraph(self, text: str, css_class: str = "") -> None:
        attribute = f' class="{css_class}"' if css_class else ""
        self._parts.append(f"<p{attribute}>{html.escape(text)}</p>")

    def bullets(self, items: Iterable[str]) -> None:
        self._parts.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>")

    def note_box(self, title: str, lines: Iterable[str]) -> None:
        """A framed box of short statements a reader must not miss (the model caveat)."""
        items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
        self._parts.append(f'<div class="caveat"><h2>{html.escape(title)}</h2><ul>{items}</ul></div>')

    def table(self, columns: Sequence[str], rows: Iterable[Sequence[object]], caption: str = "",
              text_columns: Sequence[int] = ()) -> None:
        """A table with the headers as given (write them for a reader: ``Mean SALT``).

        ``text_columns``: positions of free-text columns, set left-aligned and wrapped.
        """
        text = [' class="text"' if index in text_columns else "" for index in range(len(columns))]
        head = "".join(f"<th{text[index]}>{html.escape(str(c))}</th>" for index, c in enumerate(columns))
        opening = [f"<td{attribute}>" for attribute in text]
        body = "".join(
            "<tr>" + "".join(f"{opening[index]}{html.escape(format_cell(cell))}</td>"
                             for index, cell in enumerate(row)) + "</tr>"
            for row in rows)
        caption_html = f"<caption>{html.escape(caption)}</caption>" if caption else ""
        self._parts.append(f"<div class=\"wide\"><table>{caption_html}<thead><tr>{head}</tr></thead>"
                           f"<tbody>{body}</tbody></table></div>")

    def image(self, png: bytes, caption: str, width: int | None = None) -> None:
        encoded = base64.b64encode(png).decode("ascii")
        style = f' style="width:{width}px"' if width else ""
        self._parts.append(
            f'<figure><img src="data:image/png;base64,{encoded}" alt="{html.escape(caption)}"{style}>'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")

    def render(self) -> str:
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>{html.escape(self.title)}</title><style>{_STYLE}</style></head><body>\n"
                + "\n".join(self._parts) + "\n</body></html>\n")

    def write(self, path: str | Path) -> None:
        write_text_atomic(path, self.render())
