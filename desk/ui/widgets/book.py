"""The selected strategy's market: asks above, bids below, fair value between, our
own resting orders marked."""

from __future__ import annotations

from rich.text import Text

from desk.engine.view import BookSide, MarketBook
from desk.ui.format import places_of, qty
from desk.ui.widgets.lines import LinesView


def _row(price: str, size: str, ours: bool, colour: str) -> Text:
    text = Text(f" {price:>11} {size:>8} ", style=colour)
    text.append("◀ ours" if ours else "      ", style="bold reverse" if ours else "")
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
        return [_row(f"{lv.price:,.{places}f}", qty(lv.size), lv.price in s.ours, colour)
                for lv in levels]

    lines = side(book.asks, tuple(reversed(asks)), "red")
    fair = f"{book.fair:,.{places}f}" if book.fair is not None else "-"
    lines.append(Text(f" ─── {fair} fair ───", style="bold"))
    lines += side(book.bids, bids, "green")
    return lines


class BookLadder(LinesView):
    def show(self, book: MarketBook | None) -> None:
        self.border_title = f"{book.market_id} book" if book else "book"
        self.set_lines(book_lines(book))
        if book is not None and book.trusted and self.size.height:  # keep the touch in view
            fair = len(book.asks.levels[:DEPTH])  # the asks are drawn above it
            self.scroll_to(y=max(0, fair - self.size.height // 2), animate=False)
