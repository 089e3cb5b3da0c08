"""The layer rules of design.md, enforced by import-linter contracts in pyproject.toml."""

from __future__ import annotations

from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def test_contracts_cover_every_layer():
    text = (ROOT / "pyproject.toml").read_text()
    for layer in ("desk.engine", "desk.venue", "desk.ocx", "desk.ui", "desk.domain"):
        assert f'source_modules = ["{layer}"]' in text, layer
