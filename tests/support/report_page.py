"""Reads a run report the way its tests look at it: tables by heading, text by section."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path


class Page(HTMLParser):
    """What the tests read from a report: each table under the heading before it, the text of
    each section (a space where an element starts, as a browser shows it), the images and every
    src/href."""

    INLINE = ("code", "strong", "b")

    def __init__(self, html: str):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.section_text: dict[str, str] = {}
        self.images: list[dict[str, str]] = []
        self.links: list[str] = []
        self._heading: str | None = None
        self._last_heading = ""
        self._section: str | None = None
        self._row: list[str] | None = None
        self._cell: str | None = None
        self.feed(html)

    @classmethod
    def read(cls, path: Path) -> Page:
        return cls(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        self.links += [attributes[name] for name in ("src", "href") if name in attributes]
        if self._section is not None and tag not in self.INLINE:
            self.section_text[self._section] += " "
        if tag == "section":
            self._section = attributes["id"]
            self.section_text[self._section] = ""
        elif tag in ("h2", "h3"):
            self._heading = ""
        elif tag == "table":
            self.tables[self._last_heading] = []
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ""
        elif tag == "img":
            self.images.append(attributes)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h2", "h3") and self._heading is not None:
            self._last_heading, self._heading = self._heading.strip(), None
        elif tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join(self._cell.split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._last_heading].append(self._row)
            self._row = None
        elif tag == "section":
            self._section = None

    def handle_data(self, data: str) -> None:
        for attribute in ("_heading", "_cell"):
            if getattr(self, attribute) is not None:
                setattr(self, attribute, getattr(self, attribute) + data)
        if self._section is not None:
            self.section_text[self._section] += data

    def table(self, heading_start: str) -> list[dict[str, str]]:
        """The rows of the table under the heading that starts so, by column name."""
        [header, *rows] = next(rows for heading, rows in self.tables.items() if heading.startswith(heading_start))
        return [dict(zip(header, row)) for row in rows]

    def text(self, section: str) -> str:
        return " ".join(self.section_text[section].split())
