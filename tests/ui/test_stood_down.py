"""The desk held down by the dead-man switch says so everywhere it matters: the header
(red when the venue refuses the engine's key, with the key, the reason and who pulled
the quotes) and every running strategy's panel (no green RUNNING while nothing rests)."""

from __future__ import annotations

from dataclasses import replace

from desk.domain.records import FeedState, Health
from desk.ui.widgets.header import alert_text, header_text
from desk.ui.widgets.strategies import panel_text
from tests.ui.fixed_backend import PULLED_BY, REFUSED, build_view


def test_a_refused_key_is_red_in_the_header_with_the_key_the_reason_and_the_puller():
    view = build_view("refused")
    top = header_text(view)
    assert "STOOD DOWN" in top.plain and "equity" in top.plain and "UTC" in top.plain
    assert any("red" in str(span.style) for span in top.spans
               if "STOOD DOWN" in top.plain[span.start:span.end])
    alert = alert_text(view)
    assert alert is not None
    assert REFUSED in alert.plain and PULLED_BY in alert.plain
    assert "red" in str(alert.spans[0].style)


def test_the_reason_sits_on_its_own_line_so_the_clock_and_equity_stay():
    view = replace(build_view("normal"), armed=False,
                   guard_problem="reference feed ETH-PERP is stale (2026 ms old, limit 500 ms)",
                   stale=("ETH-PERP",))
    top = header_text(view)
    assert "stale" not in top.plain.split("feeds")[0]   # the reason is not on line one
    assert "● 1 stale" in top.plain                     # never "feeds ● live" meanwhile
    assert top.plain.index("UTC") < 80                  # the clock fits 80 columns
    alert = alert_text(view)
    assert alert is not None and "2026 ms old" in alert.plain
    assert "yellow" in str(alert.spans[0].style)


def test_an_unconfirmed_cancel_all_is_said_in_red():
    view = replace(build_view("refused"), pulled=False, pulled_by=None)
    alert = alert_text(view)
    assert alert is not None and "NOT confirmed" in alert.plain


def test_no_alert_line_while_quoting_and_feeds_down_are_counted():
    view = build_view("normal")
    assert alert_text(view) is None
    down = replace(view, feeds=view.feeds + (Health("book:BTC-PERP", FeedState.RECONNECTING,
                                                     None),))
    assert "● 1 down" in header_text(down).plain


def test_running_strategies_show_stood_down_not_running():
    view = build_view("refused")
    for s in view.strategies:
        text = panel_text(s).plain
        assert "STOOD DOWN" in text and "RUNNING" not in text
        assert "dead-man switch" in text
    normal = build_view("normal").strategies[0]
    assert "RUNNING" in panel_text(normal).plain


async def test_the_app_shows_two_header_lines_while_stood_down():
    from tests.ui.screenshots import SCENARIOS, make_app

    app = make_app(SCENARIOS["refused"])
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        header = app.screen.query_one("#header")
        assert header.has_class("-alert") and header.size.height == 2


def test_resting_orders_unknown_while_the_fill_stream_is_down_say_so():
    view = replace(build_view("normal"), resting=-1)
    assert "? resting" in header_text(view).plain
    assert "0 resting" in header_text(replace(view, resting=0)).plain
