"""`LinesView`: a Line-API scroll view over prepared lines of text. Only the rows on
screen are rendered, and replacing the lines costs one refresh, so a busy book or a
long log redraws cheaply."""

from __future__ import annotations

from rich.segment import Segment
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip


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
        if row >= len(self.lines):
            return Strip.blank(self.size.width, self.rich_style)
        segments = [Segment(s.text, self.rich_style + s.style if s.style else self.rich_style)
                    for s in self.lines[row].render(self.app.console)]
        return Strip(segments).crop_extend(0, self.size.width, self.rich_style)
