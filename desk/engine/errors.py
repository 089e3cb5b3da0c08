"""The control surface's typed errors (what the TUI, `desk run` and tests catch)."""

from __future__ import annotations

from decimal import Decimal


class StrategyError(Exception):
    """A control action that cannot be done; the message says why and names the field."""


class UnknownStrategyError(StrategyError):
    pass


class IllegalTransitionError(StrategyError):
    pass


class PositionLimitError(StrategyError):
    def __init__(self, message: str, current_position: Decimal, max_position: Decimal):
        super().__init__(message)
        self.current_position = current_position
        self.max_position = max_position


class CircuitBreakerError(StrategyError):
    def __init__(self, reason: str):
        super().__init__(f"circuit breaker active: {reason}")
        self.reason = reason


class InsufficientMarginError(StrategyError):
    def __init__(self, message: str, required: Decimal | None, available: Decimal | None):
        super().__init__(message)
        self.required = required
        self.available = available
