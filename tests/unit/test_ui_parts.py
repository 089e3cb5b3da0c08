"""The screens' pure parts: key-request parsing, the book ladder's lines, the event
log's filter, number formats."""

from __future__ import annotations

from decimal import Decimal

from desk.domain.records import BookLevel
from desk.engine.events import Event, EventType, Severity
from desk.engine.view import BookSide, MarketBook
from desk.ui.format import money, places_of, qty, signed
from desk.ui.screens.keys import parse_key_request
from desk.ui.widgets.book import book_lines
from desk.ui.widgets.event_log import event_lines

D = Decimal


def test_a_good_key_request():
    request, errors = parse_key_request(" monitoring ", "read", "127.0.0.1, 10.0.0.0/8", "30")
    assert errors == {}
    assert request is not None and request.name == "monitoring"
    assert request.allowed_ips == ["127.0.0.1", "10.0.0.0/8"]
    assert request.expires_in_days == 30 and request.scope == "read"


def test_no_expiry_and_no_ips_are_allowed():
    request, errors = parse_key_request("bot", "trade", "", " ")
    assert not errors and request.expires_in_days is None and request.allowed_ips == []


def test_every_bad_key_field_is_named():
    request, errors = parse_key_request("", "admin", "1.2.3.4, not-an-ip", "soon")
    assert request is None
    assert errors["name"] == "name: required"
    assert errors["scope"] == "scope: read or trade"
    assert "'not-an-ip'" in errors["allowed_ips"]
    assert "'soon' is not a whole number" in errors["expires"]
    _, errors = parse_key_request("x", "read", "", "0")
    assert "between 1 and 3650" in errors["expires"]


def _book(trusted: bool = True) -> MarketBook:
    bids = (BookLevel(D("63999.5"), D("1")), BookLevel(D("63990"), D("0.5")))
    asks = (BookLevel(D("64000.5"), D("2")), BookLevel(D("64010"), D("0.25")))
    return MarketBook("BTC-PERP", trusted, BookSide(bids, frozenset({D("63990")})),
                      BookSide(asks, frozenset({D("64000.5")})), D("64000"))


def test_the_ladder_has_asks_high_to_low_then_fair_then_bids_and_marks_ours():
    lines = [t.plain for t in book_lines(_book())]
    assert [line.split()[0] for line in lines] == ["64,010.0", "64,000.5", "───",
                                                   "63,999.5", "63,990.0"]
    assert "fair" in lines[2] and "64,000.0" in lines[2]
    ours = [line for line in lines if "◀ ours" in line]
    assert [line.split()[0] for line in ours] == ["64,000.5", "63,990.0"]


def test_an_untrusted_book_says_so_instead_of_showing_levels():
    lines = [t.plain for t in book_lines(_book(trusted=False))]
    assert len(lines) == 1 and "not trusted" in lines[0]
    assert "no market" in book_lines(None)[0].plain


def _event(seq: int, type: EventType, sid: str | None, severity: Severity = Severity.INFO,
           **data: object) -> Event:
    return Event(type, sid, 1_700_000_000_000 + seq * 1000, dict(data), severity, seq)


def test_the_log_is_newest_first_and_filters_by_strategy_and_severity():
    events = (
        _event(1, EventType.QUOTE_SENT, "a", reason="start"),
        _event(2, EventType.PNL_UPDATE, "a"),
        _event(3, EventType.ERROR, "b", Severity.WARNING, code="X", message="slow"),
        _event(4, EventType.CIRCUIT_BREAKER, None, Severity.ERROR, reason="dead-man: stale"),
    )
    names = {"a": "alpha", "b": "beta"}
    everything = [t.plain for t in event_lines(events, names, quotes=True)]
    assert len(everything) == 3  # pnl updates are left to the panels
    assert "circuit_breaker" in everything[0] and "desk" in everything[0]
    assert "quote_sent" in everything[-1] and "alpha" in everything[-1]
    assert len(event_lines(events, names)) == 2  # the quote chatter is hidden by default
    only_a = [t.plain for t in event_lines(events, names, strategy="a", quotes=True)]
    assert len(only_a) == 2 and not any("beta" in line for line in only_a)  # desk-wide stay
    warnings = [t.plain for t in event_lines(events, names, least=Severity.WARNING)]
    assert len(warnings) == 2 and "message=slow" in warnings[1]
    assert event_lines((), names)[0].plain.strip() == "no events"


def test_number_formats():
    assert money(D("100412.2")) == "100,412.20" and money(None) == "-"
    assert signed(D("41")) == "+41.00" and signed(D("-3.456")) == "-3.46"
    assert qty(D("0.400")) == "0.4" and qty(D("10")) == "10"
    assert places_of([D("64000.5"), D("1.25")]) == 2 and places_of([D("64000")]) == 1
