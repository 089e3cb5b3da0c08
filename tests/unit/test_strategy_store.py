"""The strategies file: [[strategies]] tables in order, atomic writes, clear refusals."""

from __future__ import annotations

import tomllib
from pathlib import Path

import platformdirs
import pytest

from desk.engine import ports
from desk.engine.config import StrategyConfig
from desk.store.strategies import (
    StrategyStoreError,
    TomlStrategyStore,
    default_strategies_path,
)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "config" / "desk" / "strategies.toml"


@pytest.fixture
def store(path: Path) -> TomlStrategyStore:
    return TomlStrategyStore(path)


def config_dict(sid: str, **changes) -> dict:
    cfg = StrategyConfig(name="x", market_id="BTC-PERP").changed(**changes)
    return {**cfg.to_toml_dict(), "id": sid}


def test_missing_file_loads_as_no_strategies(store: TomlStrategyStore, path: Path):
    assert store.load() == []
    assert not path.exists()


def test_round_trip_revalidates_to_equal_configs(store: TomlStrategyStore, path: Path):
    port: ports.StrategyStore = store
    saved = [config_dict("s1"), config_dict("s2", name="eth mm", market_id="ETH-PERP",
                                            quote_size="1.0125", max_daily_loss="1234.5678")]
    port.save(saved)
    loaded = port.load()
    assert loaded == saved
    assert [s["id"] for s in loaded] == ["s1", "s2"]  # order kept
    for raw, original in zip(loaded, saved, strict=True):
        fields = {k: v for k, v in raw.items() if k != "id"}
        again = StrategyConfig.model_validate(fields)
        assert again == StrategyConfig.model_validate({k: v for k, v in original.items()
                                                       if k != "id"})
    assert str(StrategyConfig.model_validate(
        {k: v for k, v in loaded[1].items() if k != "id"}).quote_size) == "1.0125"


def test_file_is_an_array_of_tables_with_a_header(store: TomlStrategyStore, path: Path):
    store.save([{"id": "a", "name": "short"}, config_dict("b")])
    text = path.read_text()
    assert text.startswith("# ") and "written by desk" in text.splitlines()[0]
    assert "stopped" in text.split("\n\n")[0]
    assert text.count("[[strategies]]") == 2
    assert text.index('id = "a"') < text.index('id = "b"')
    assert tomllib.loads(text)["strategies"][0] == {"id": "a", "name": "short"}


def test_save_empty_and_nested_values_round_trip(store: TomlStrategyStore):
    store.save([])
    assert store.load() == []
    odd = [{"id": "n", "extra": {"deep": [1, 2]}, "levels": [{"p": "1"}, {"p": "2"}]},
           {"id": "m"}]
    store.save(odd)  # the store checks shape only; the engine validates fields
    assert store.load() == odd


def test_atomic_write_leaves_no_temp_files(store: TomlStrategyStore, path: Path):
    store.save([config_dict("s1")])
    store.save([config_dict("s1"), config_dict("s2")])
    assert [p.name for p in path.parent.iterdir()] == ["strategies.toml"]
    assert [s["id"] for s in store.load()] == ["s1", "s2"]


def test_unwritable_value_is_refused_and_the_old_file_kept(store: TomlStrategyStore,
                                                             path: Path):
    store.save([config_dict("s1")])
    before = path.read_bytes()
    with pytest.raises(StrategyStoreError, match=r"strategies\[1\]") as err:
        store.save([config_dict("s1"), {"id": "bad", "size": None}])
    assert str(path) in str(err.value)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["strategies.toml"]
    with pytest.raises(StrategyStoreError, match=r"strategies\[0\] is not a table"):
        store.save(["nope"])  # type: ignore[list-item]


def test_malformed_toml_names_the_path_and_line(store: TomlStrategyStore, path: Path):
    path.parent.mkdir(parents=True)
    path.write_text('[[strategies]]\nid = "s1"\nname = \n')
    with pytest.raises(StrategyStoreError) as err:
        store.load()
    message = str(err.value)
    assert str(path) in message and "line 3" in message
    assert path.read_text() == '[[strategies]]\nid = "s1"\nname = \n'  # never rewritten


@pytest.mark.parametrize("text", ['strategies = "x"\n', 'name = "x"\n',
                                  '[strategies]\nid = "s1"\n',
                                  'strategies = []\nother = 1\n'])
def test_wrong_top_level_names_the_path(store: TomlStrategyStore, path: Path, text: str):
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with pytest.raises(StrategyStoreError, match="top level") as err:
        store.load()
    assert str(path) in str(err.value)


def test_a_non_table_entry_is_named_by_index(store: TomlStrategyStore, path: Path):
    path.parent.mkdir(parents=True)
    path.write_text('strategies = [{ id = "a" }, 3]\n')
    with pytest.raises(StrategyStoreError, match=r"strategies\[1\] is not a table") as err:
        store.load()
    assert str(path) in str(err.value)


def test_unreadable_file_is_a_store_error(store: TomlStrategyStore, path: Path):
    path.mkdir(parents=True)  # a directory where the file should be
    with pytest.raises(StrategyStoreError, match=str(path)):
        store.load()
    path.rmdir()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(StrategyStoreError, match=str(path)):
        store.load()


def test_default_path_is_in_the_user_config_dir():
    assert default_strategies_path() == (Path(platformdirs.user_config_dir("desk"))
                                         / "strategies.toml")
    assert TomlStrategyStore().path == default_strategies_path()
