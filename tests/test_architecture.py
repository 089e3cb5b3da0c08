"""The layer rules of design.md, enforced by import-linter contracts in pyproject.toml.

import-linter runs in its own process: it reconfigures logging, which would
otherwise silence the loggers of the tests that follow.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")


def test_import_contracts_hold():
    proc = subprocess.run([str(LINT), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "Contracts: 6 kept, 0 broken" in proc.stdout


def test_contracts_cover_every_layer():
    text = (ROOT / "pyproject.toml").read_text()
    for layer in ("desk.engine", "desk.venue", "desk.ocx", "desk.ui", "desk.domain",
                  "desk.backtest"):
        assert f'source_modules = ["{layer}"]' in text, layer
