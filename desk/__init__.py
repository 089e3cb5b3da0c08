"""desk: a terminal trading desk for market makers on OCX-style perpetual-futures venues."""

__version__ = "0.1.0"
