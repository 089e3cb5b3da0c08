"""The synthetic market: deterministic stepping, two-sided books, Poisson takers whose
intensity A*exp(-k*delta) falls as makers quote wider, freezes and halts."""

from __future__ import annotations

import math
import random
from decimal import Decimal

from desk.domain import OrderType, Side
from desk.venue.config import MarketConfig, MarketSim, VenueConfig
from desk.venue.exchange import Exchange, OrderRequest
from desk.venue.faults import Faults
from desk.venue.market_sim import MAKER, TAKER, MarketSimulator, poisson
from tests.helpers import ManualClock

D = Decimal
BTC = "BTC-PERP"
ETH = "ETH-PERP"
STEP_MS = 100


def btc(**sim) -> MarketConfig:
    return MarketConfig(
        market_id=BTC, base="BTC", tick_size=D("0.1"), step_size=D("0.001"),
        min_quantity=D("0.001"), initial_price=D("64000"),
        sim=MarketSim(taker_size_median=D("0.05"), maker_size=D("0.5"), **sim))


def eth(**sim) -> MarketConfig:
    return MarketConfig(
        market_id=ETH, base="ETH", tick_size=D("0.01"), step_size=D("0.01"),
        min_quantity=D("0.01"), initial_price=D("3200"),
        sim=MarketSim(taker_size_median=D("0.8"), maker_size=D("8"), **sim))


def make(markets=None, seed=7, index_frozen=None, clock=None):
    clock = clock or ManualClock()
    ex = Exchange(VenueConfig(sim_enabled=False, markets=markets or [btc()]), clock,
                  random.Random(seed))
    kwargs = {} if index_frozen is None else {"index_frozen": index_frozen}
    sim = MarketSimulator(ex, random.Random(seed + 1), **kwargs)
    return clock, ex, sim


def run(clock, ex, sim, steps, market=BTC):
    path = []
    for _ in range(steps):
        clock.advance(STEP_MS)
        sim.step(STEP_MS)
        path.append(ex.markets[market].index)
    return path


def fills_seen(ex):
    fills = []
    ex.sink = lambda acct, kind, obj: fills.append(obj) if kind == "fill" else None
    return fills


# --- determinism ------------------------------------------------------------------------


def _trace(seed, steps=300):
    clock, ex, sim = make([btc(jumps_per_hour=200.0), eth()], seed=seed)
    fills = fills_seen(ex)
    path = run(clock, ex, sim, steps)
    m = ex.markets[BTC]
    return {
        "path": path,
        "eth": ex.markets[ETH].index,
        "counters": dict(sim.counters),
        "exchange": dict(ex.counters),
        "volume": dict(sim.taker_volume),
        "maker_qty": ex.accounts[MAKER].qty(BTC),
        "bids": m.book.bids.depth(50),
        "asks": m.book.asks.depth(50),
        "fills": [(f.fill_id, f.account_id, f.side, f.price, f.quantity) for f in fills],
    }


def test_stepping_is_deterministic():
    a, b = _trace(11), _trace(11)
    assert a == b
    assert a["counters"]["takers"] > 0 and a["counters"]["steps"] == 300
    assert len(set(a["path"])) > 10  # the index actually moved


def test_different_seeds_give_different_paths():
    assert _trace(11, 100)["path"] != _trace(12, 100)["path"]


def test_index_stays_on_ticks_and_near_start():
    clock, ex, sim = make()
    path = run(clock, ex, sim, 600)
    tick = ex.markets[BTC].tick
    assert all(p % tick == 0 for p in path)
    # 1 bps / sqrt(s) over 60 s is ~8 bps; no jumps at the default 2/h are likely
    assert all(abs(p / D(64000) - 1) < D("0.01") for p in path)


def test_zero_volatility_keeps_the_index():
    clock, ex, sim = make([btc(volatility_bps=0.0, jumps_per_hour=0.0)])
    assert set(run(clock, ex, sim, 100)) == {D("64000")}


def test_jumps_are_counted():
    # 36000 jumps per hour = one per 100 ms step on average (probability 1 per step)
    clock, ex, sim = make([btc(jumps_per_hour=36000.0)])
    run(clock, ex, sim, 20)
    assert sim.counters["jumps"] >= 20
    clock, ex, sim = make([btc(jumps_per_hour=0.0)])
    run(clock, ex, sim, 20)
    assert sim.counters["jumps"] == 0


# --- books and takers ------------------------------------------------------------------


def test_books_get_both_sides_around_the_index():
    clock, ex, sim = make()
    run(clock, ex, sim, 1)
    m = ex.markets[BTC]
    bid, ask = m.book.bids.best() * m.tick, m.book.asks.best() * m.tick
    assert bid < m.index < ask
    # 8 maker levels a side (fewer only if takers already emptied some)
    assert len(m.book.bids) >= 6 and len(m.book.asks) >= 6
    # the best quote is about the half spread (4 bps +- 10%) away from the index
    assert D("3") <= (m.index - bid) / m.index * 10_000 <= D("5")
    assert D("3") <= (ask - m.index) / m.index * 10_000 <= D("5")
    assert all(o.account_id == MAKER for o in m.book.bids.orders())
    assert sim.counters["requotes"] == 1
    # mark is the median of bid, ask and index
    assert m.mark == m.index.quantize(m.tick)


def test_takers_trade_with_makers():
    clock, ex, sim = make()
    fills = fills_seen(ex)
    run(clock, ex, sim, 300)
    assert sim.counters["takers"] > 10
    assert sim.taker_volume[BTC] > 0
    taker_fills = [f for f in fills if f.account_id == TAKER]
    maker_fills = [f for f in fills if f.account_id == MAKER]
    assert taker_fills and len(taker_fills) == len(maker_fills)
    assert sum(f.quantity for f in taker_fills) == sim.taker_volume[BTC]
    assert {f.side for f in taker_fills} == {Side.BUY, Side.SELL}
    # the synthetic accounts hold opposite positions
    assert ex.accounts[MAKER].qty(BTC) == -ex.accounts[TAKER].qty(BTC)
    assert ex.accounts[MAKER].unlimited and ex.accounts[TAKER].unlimited


def test_makers_requote_on_their_refresh():
    clock, ex, sim = make([btc(maker_refresh_ms=500, volatility_bps=0.0,
                               jumps_per_hour=0.0, taker_a=0.0)])
    run(clock, ex, sim, 50)  # 5 s of 100 ms steps: a requote every 5th step
    assert sim.counters["requotes"] == 10
    assert sim.counters["takers"] == 0


def test_informed_share():
    clock, ex, sim = make([btc(informed_share=1.0)])
    run(clock, ex, sim, 200)
    assert sim.counters["takers"] > 0
    assert sim.counters["informed"] == sim.counters["takers"]
    clock, ex, sim = make([btc(informed_share=0.0)])
    run(clock, ex, sim, 200)
    assert sim.counters["informed"] == 0 and sim.counters["takers"] > 0


def test_freeze_keeps_the_index_constant():
    clock, ex, sim = make(index_frozen=lambda market_id: True)
    path = run(clock, ex, sim, 200)
    assert set(path) == {D("64000")}
    assert sim.counters["takers"] > 0  # the market still trades


def test_freeze_from_faults_ends_on_the_clock():
    clock = ManualClock()
    faults = Faults(clock)
    faults.frozen_index[BTC] = clock() + 2_000
    clock, ex, sim = make([btc(volatility_bps=20.0)], index_frozen=faults.index_frozen,
                          clock=clock)
    frozen = run(clock, ex, sim, 19)
    assert set(frozen) == {D("64000")}
    later = run(clock, ex, sim, 50)
    assert len(set(later)) > 5


def test_freeze_is_per_market():
    clock, ex, sim = make([btc(volatility_bps=20.0), eth(volatility_bps=20.0)],
                          index_frozen=lambda market_id: market_id == ETH)
    btc_path = run(clock, ex, sim, 50)
    assert ex.markets[ETH].index == D("3200")
    assert len(set(btc_path)) > 5


def test_halted_market_gets_no_taker_trades():
    clock, ex, sim = make([btc(), eth()])
    ex.set_halted(ETH, True)
    fills = fills_seen(ex)
    run(clock, ex, sim, 300)
    assert sim.taker_volume[ETH] == 0
    assert not any(f.market_id == ETH for f in fills)
    assert len(ex.markets[ETH].book.bids) == 0 and len(ex.markets[ETH].book.asks) == 0
    assert ex.accounts[TAKER].qty(ETH) == 0
    # the other market trades as usual
    assert sim.taker_volume[BTC] > 0


def test_halt_after_quotes_stops_takers():
    clock, ex, sim = make([btc(), eth()])
    run(clock, ex, sim, 20)
    ex.set_halted(ETH, True)
    before = (sim.taker_volume[ETH], ex.accounts[TAKER].qty(ETH))
    fills = fills_seen(ex)
    run(clock, ex, sim, 300)
    assert (sim.taker_volume[ETH], ex.accounts[TAKER].qty(ETH)) == before
    assert not any(f.market_id == ETH for f in fills)
    ex.set_halted(ETH, False)
    run(clock, ex, sim, 300)
    assert sim.taker_volume[ETH] > before[0]


def _taker_count(half_spread_bps: float, steps: int = 600, **sim) -> int:
    clock, ex, s = make([btc(maker_half_spread_bps=half_spread_bps, **sim)], seed=5)
    run(clock, ex, s, steps)
    return s.counters["takers"]


def test_arrival_intensity_falls_when_makers_quote_wider():
    tight, mid, wide = _taker_count(1.0), _taker_count(8.0), _taker_count(25.0)
    assert tight > mid > wide
    # A = 1.5 / s / side, k = 0.15 per bps over 60 s:
    # delta ~1 bps -> ~2 * 1.5 * 60 * exp(-0.15) ~ 155; delta ~25 bps -> ~4.2
    assert tight > 100
    assert wide < 15
    assert tight > 10 * wide


def test_without_decay_spread_does_not_matter():
    # k = 0: intensity is A on each side whatever the spread: ~2 * 1.5 * 60 = 180 each
    tight = _taker_count(1.0, taker_k=0.0)
    wide = _taker_count(25.0, taker_k=0.0)
    assert 130 < tight < 230 and 130 < wide < 230


def test_no_takers_without_a_book():
    clock, ex, sim = make([btc(maker_levels=0)])
    run(clock, ex, sim, 200)
    assert sim.counters["takers"] == 0


def test_step_liquidates_underwater_accounts():
    clock, ex, sim = make(index_frozen=lambda market_id: True)
    ex.open_account("lev", D("5000"))
    run(clock, ex, sim, 1)  # makers quote around 64000
    _, fills = ex.place_order("lev", BTC, OrderRequest(Side.BUY, D("1"), type=OrderType.MARKET))
    assert sum(f.quantity for f in fills) == D("1")
    ex.set_index(BTC, D("60000"))  # the frozen index stays here
    run(clock, ex, sim, 10)  # makers requote around 60000; marks refresh; lev is liquidated
    assert ex.accounts["lev"].qty(BTC) == 0
    assert ex.accounts["lev"].liquidations == 1
    assert ex.counters["liquidations"] == 1


# --- poisson -----------------------------------------------------------------------------


def test_poisson_mean_is_lambda():
    rng = random.Random(2024)
    for lam in (0.05, 0.7, 3.0):
        n = 20_000
        draws = [poisson(rng, lam) for _ in range(n)]
        mean = sum(draws) / n
        var = sum((x - mean) ** 2 for x in draws) / n
        # std error of the mean is sqrt(lam / n): < 0.013 here; allow 5 of those
        assert abs(mean - lam) < 5 * math.sqrt(lam / n)
        assert abs(var - lam) < 0.1 * lam + 0.01
        assert min(draws) >= 0


def test_poisson_zero_probability_matches():
    rng = random.Random(9)
    lam, n = 1.0, 20_000
    zeros = sum(poisson(rng, lam) == 0 for _ in range(n)) / n
    assert abs(zeros - math.exp(-lam)) < 0.02


def test_poisson_non_positive_lambda_is_zero():
    rng = random.Random(1)
    state = rng.getstate()
    assert poisson(rng, 0) == 0 and poisson(rng, -1.5) == 0
    assert rng.getstate() == state  # no random numbers consumed


def test_poisson_is_deterministic_for_a_seed():
    a = [poisson(random.Random(3), 2.0) for _ in range(1)]
    r1, r2 = random.Random(8), random.Random(8)
    assert [poisson(r1, 2.0) for _ in range(100)] == [poisson(r2, 2.0) for _ in range(100)]
    assert a == [poisson(random.Random(3), 2.0)]
