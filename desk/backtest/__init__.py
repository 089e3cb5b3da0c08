"""Backtests: the engine's strategies on a virtual clock against the in-process exchange."""
