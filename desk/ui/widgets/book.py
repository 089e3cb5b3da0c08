"""The selected strategy's market: asks above, bids below, fair value between, our
own resting orders marked: `◀ ours` on a level that holds one (our size within the
level's), `◁ ours` on one the book stream has not shown yet (see
`desk.engine.view.book_side`)."""

from __future__ import annotations

from rich.text import Text

from desk.engine.view import BookSide, MarketBook
from desk.ui.format import places_of, qty
from desk.ui.widgets.lines import LinesView

OURS = "◀ ours"
PENDING = "◁ ours"
COLOURS = {"ask": "red", "bid": "green"}


def _row(price: str, size: str, mark: str, colour: str) -> Text:
    text = Text(f" {price:>11} {size:>8} ", style=colour)
    if mark == OURS:
        text.append(OURS, style="bold reverse")
    elif mark == PENDING:
        text.append(PENDING, style="bold")
    else:
        text.append(" " * len(OURS))
    return text


DEPTH = 10


def book_lines(book: MarketBook | None, depth: int = DEPTH) -> list[Text]:
    if book is None:
        return [Text(" no market selected", style="dim")]
    if not book.trusted:
        return [Text(" book not trusted: waiting for a snapshot", style="bold yellow")]
    asks, bids = book.asks.levels[:depth], book.bids.levels[:depth]
    places = places_of([lv.price for lv in asks + bids] + ([book.fair] if book.fair else []))

    def side(s: BookSide, levels: tuple, colour: str) -> list[Text]:
        return [_row(f"{lv.price:,.{places}f}", qty(lv.size),
                     OURS if lv.price in s.ours else PENDING if lv.price in s.pending else "",
                     colour)
                for lv in levels]

    lines = side(book.asks, tuple(reversed(asks)), COLOURS["ask"])
    fair = f"{book.fair:,.{places}f}" if book.fair is not None else "-"
    lines.append(Text(f" ─── {fair} fair ───", style="bold"))
    lines += side(book.bids, bids, COLOURS["bid"])
    return lines


class BookLadder(LinesView, can_focus=True):
    """Focusable (`w` reaches it, `z` maximizes it): while it has the focus the arrows
    scroll it; otherwise it keeps the touch in view."""

    ALLOW_MAXIMIZE = True

    def show(self, book: MarketBook | None) -> None:
        self.border_title = f"{book.market_id} book" if book else "book"
        self.set_lines(book_lines(book))
        if book is not None and book.trusted and self.size.height and not self.has_focus:
            fair = len(book.asks.levels[:DEPTH])  # the asks are drawn above it
            self.scroll_to(y=max(0, fair - self.size.height // 2), animate=False)
