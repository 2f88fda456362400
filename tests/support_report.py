"""Reading a report back as a browser would: its links, its styles, its ids, its timeline's bars."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class Page(HTMLParser):
    """Every element's attributes, the ids, and the text of style elements and attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.attrs: list[tuple[str, str, str]] = []  # (tag, name, value)
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attrs += [(tag, name, value or "") for name, value in attrs]
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)

    def ids(self) -> list[str]:
        return [value for _, name, value in self.attrs if name == "id"]


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


def assert_offline(html: str) -> None:
    """No http(s) in any src/href/xlink:href, no url() in any style, no http(s) anywhere at all."""
    page = parse(html)
    linked = [v for _, name, v in page.attrs if name in ("src", "href", "xlink:href", "action", "data")]
    assert all(v.startswith("#") for v in linked), [v for v in linked if not v.startswith("#")]
    styles = page.styles + [v for _, name, v in page.attrs if name == "style"]
    assert not any("url(" in s for s in styles)
    assert not re.search(r"https?:", html, re.I), re.search(r".{40}https?:.{40}", html, re.I)
    assert "<script" not in html.lower() and "<link" not in html.lower()


def timeline_bars(html: str) -> int:
    return len(re.findall(r'id="timeline-bar-', html))
