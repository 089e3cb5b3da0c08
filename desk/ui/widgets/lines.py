"""`LinesView`: a Line-API scroll view over prepared lines of text. Only the rows on
screen are rendered, and replacing the lines costs one refresh, so a busy book or a
long log redraws cheaply.

Each line keeps its own base style (`Text(..., style=...)`), with or without spans:
rich's `Text.render` drops the base style of a text that has no spans, so the
segments are built here."""

from __future__ import annotations

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip


def line_segments(text: Text, console: Console) -> list[Segment]:
    """The segments of one line, its base style kept (spans or none)."""
    if text.spans:
        return list(text.render(console))
    style = console.get_style(text.style, default=Style.null()) if text.style else None
    return [Segment(text.plain, style)]


class LinesView(ScrollView, can_focus=False):
    DEFAULT_CSS = """
    LinesView { overflow-x: hidden; }
    """

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.lines: list[Text] = []

    def set_lines(self, lines: list[Text]) -> None:
        if lines == self.lines:
            return
        self.lines = lines
        width = max((t.cell_len for t in lines), default=0)
        self.virtual_size = Size(width, len(lines))
        self.refresh()

    def render_line(self, y: int) -> Strip:
        row = y + self.scroll_offset.y
        base = self.rich_style
        if row >= len(self.lines):
            return Strip.blank(self.size.width, base)
        segments = [Segment(s.text, base + s.style if s.style else base)
                    for s in line_segments(self.lines[row], self.app.console)]
        x = self.scroll_offset.x
        return Strip(segments).crop_extend(x, x + self.size.width, base)
