"""The local API-key store: 0600 secrets file, metadata without secrets, in-use keys."""

from __future__ import annotations

import os
import re
import stat

import pytest

from desk.store.keys import KeyStore, KeyStoreError, StoredKey, default_key_dir

VENUE = "http://127.0.0.1:8731"
OTHER = "https://ocx.example.com"


def fake_secret(fill: str = "A") -> str:
    return "ocx_sk_" + fill * 43  # built at runtime: no secret-shaped literal in the repo


def kid(n: int) -> str:
    return f"ocx_kid_{n:016d}"


@pytest.fixture
def store(tmp_path) -> KeyStore:
    return KeyStore(tmp_path / "desk")


def add(store: KeyStore, n: int, venue: str = VENUE, scope: str = "trade") -> StoredKey:
    return store.add(venue, kid(n), f"bot{n}", scope, fake_secret(chr(ord("A") + n)))


def test_secrets_file_is_0600_and_the_new_directory_0700(store):
    add(store, 1)
    assert stat.S_IMODE(store.secrets_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    add(store, 2)  # rewritten, still private
    assert stat.S_IMODE(store.secrets_path.stat().st_mode) == 0o600


def test_secrets_file_is_0600_even_with_a_permissive_umask(store):
    old = os.umask(0)
    try:
        add(store, 1)
    finally:
        os.umask(old)
    assert stat.S_IMODE(store.secrets_path.stat().st_mode) == 0o600


def test_an_existing_directory_keeps_its_mode(tmp_path):
    tmp_path.chmod(0o755)
    add(KeyStore(tmp_path), 1)
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755


def test_metadata_file_holds_no_secret(store):
    add(store, 1)
    add(store, 2, OTHER, "read")
    text = store.meta_path.read_text()
    leaked = fake_secret("B") in text or fake_secret("C") in text or "ocx_sk_" in text
    assert not leaked, "a secret leaked into keys.json"
    assert kid(1) in text and kid(2) in text and "bot2" in text


def test_secret_round_trips_and_is_not_in_the_metadata_object(store):
    key = add(store, 1)
    ok = store.secret(kid(1)) == fake_secret("B")
    assert ok, "secret() did not return the stored secret"
    leaked = fake_secret("B") in repr(key) or fake_secret("B") in repr(store.list())
    assert not leaked, "a secret leaked into StoredKey"


def test_loose_secrets_file_is_refused_with_its_path_and_mode(store):
    add(store, 1)
    store.secrets_path.chmod(0o644)
    with pytest.raises(KeyStoreError) as err:
        store.secret(kid(1))
    message = str(err.value)
    leaked = fake_secret("B") in message
    assert not leaked, "a secret leaked into the error"
    assert str(store.secrets_path) in message
    assert "0644" in message and "chmod 600" in message
    with pytest.raises(KeyStoreError):  # nor is it merged into on add
        add(store, 2)
    assert stat.S_IMODE(store.secrets_path.stat().st_mode) == 0o644


def test_group_readable_secrets_file_is_refused(store):
    add(store, 1)
    store.secrets_path.chmod(0o640)
    with pytest.raises(KeyStoreError, match="0640"):
        store.secret(kid(1))


def test_listing_never_opens_the_secrets_file(store):
    add(store, 1)
    store.secrets_path.chmod(0o644)  # a read would be refused, so none may happen
    assert [k.id for k in store.list()] == [kid(1)]
    assert store.get(kid(1)).name == "bot1"
    assert store.in_use(VENUE).id == kid(1)


def test_first_key_for_a_venue_is_in_use(store):
    first = add(store, 1)
    second = add(store, 2)
    other = add(store, 3, OTHER)
    assert first.in_use and not second.in_use and other.in_use
    assert store.in_use(VENUE).id == kid(1)
    assert store.in_use(OTHER).id == kid(3)


def test_add_records_metadata_and_normalises_the_venue(store):
    key = store.add(VENUE + "/", kid(1), "mm", "read", fake_secret(),
                    expires_at="2030-01-01T00:00:00Z", created_at="2025-01-01T00:00:00Z")
    assert key == StoredKey(kid(1), "mm", "read", VENUE, "2030-01-01T00:00:00Z",
                            "2025-01-01T00:00:00Z", True)
    assert store.get(kid(1)) == key
    assert store.list(VENUE + "/") == [key]


def test_created_at_defaults_to_now(store):
    assert add(store, 1).created_at.startswith("20")


def test_list_filters_by_venue_in_insertion_order(store):
    add(store, 1)
    add(store, 2, OTHER)
    add(store, 3)
    assert [k.id for k in store.list()] == [kid(1), kid(2), kid(3)]
    assert [k.id for k in store.list(VENUE)] == [kid(1), kid(3)]
    assert [k.id for k in store.list(OTHER)] == [kid(2)]
    assert store.list("http://nowhere:1") == []


def test_use_switches_the_key_in_use(store):
    add(store, 1)
    add(store, 2)
    assert store.use(VENUE, kid(2)).in_use
    assert store.in_use(VENUE).id == kid(2)
    assert not store.get(kid(1)).in_use


def test_use_refuses_an_unknown_key_or_one_of_another_venue(store):
    add(store, 1)
    add(store, 2, OTHER)
    with pytest.raises(KeyStoreError, match=kid(9)):
        store.use(VENUE, kid(9))
    with pytest.raises(KeyStoreError, match=kid(2)):
        store.use(VENUE, kid(2))
    assert store.in_use(VENUE).id == kid(1)


def test_remove_drops_metadata_and_secret(store):
    add(store, 1)
    add(store, 2)
    store.remove(kid(2))
    assert [k.id for k in store.list()] == [kid(1)]
    gone = fake_secret("C") in store.secrets_path.read_text()
    assert not gone, "the removed key's secret is still on disk"
    with pytest.raises(KeyStoreError, match=kid(2)):
        store.secret(kid(2))
    with pytest.raises(KeyStoreError, match=kid(2)):
        store.get(kid(2))
    with pytest.raises(KeyStoreError, match=kid(2)):
        store.remove(kid(2))


def test_removing_the_key_in_use_leaves_none_in_use(store):
    add(store, 1)
    add(store, 2)
    add(store, 3, OTHER)
    store.remove(kid(1))
    assert store.in_use(VENUE) is None
    assert not any(k.in_use for k in store.list(VENUE))
    assert store.in_use(OTHER).id == kid(3)
    add(store, 4)  # the venue has no key in use, so a new one takes the place
    assert store.in_use(VENUE).id == kid(4)


@pytest.mark.parametrize(("field", "kwargs"), [
    ("scope", {"scope": "admin"}),
    ("secret", {"secret": "sk_live_123"}),
    ("secret", {"secret": ""}),
    ("key_id", {"key_id": "kid_123"}),
    ("name", {"name": " "}),
    ("venue", {"venue": "127.0.0.1:8731"}),
    ("expires_at", {"expires_at": "next tuesday"}),
])
def test_bad_input_is_refused_naming_the_field(store, field, kwargs):
    args = {"venue": VENUE, "key_id": kid(1), "name": "bot", "scope": "trade",
            "secret": fake_secret(), **kwargs}
    with pytest.raises(KeyStoreError, match=f"^{field}"):
        store.add(**args)
    assert not store.meta_path.exists() and not store.secrets_path.exists()


def test_a_secret_passed_as_the_key_id_is_not_echoed(store):
    with pytest.raises(KeyStoreError) as err:
        store.add(VENUE, fake_secret(), "bot", "trade", fake_secret())
    leaked = fake_secret() in str(err.value)
    assert not leaked, "the error message echoed a secret"
    assert "ocx_sk_***" in str(err.value)


def test_duplicate_key_id_is_refused(store):
    add(store, 1)
    with pytest.raises(KeyStoreError, match="key_id"):
        add(store, 1)


@pytest.mark.parametrize("which", ["meta_path", "secrets_path"])
def test_corrupt_json_is_reported_and_left_untouched(store, which):
    add(store, 1)
    path = getattr(store, which)
    corrupt = b'{"keys": [ oops'
    path.write_bytes(corrupt)
    path.chmod(0o600)
    readers = {"meta_path": [store.list, lambda: store.get(kid(1)), lambda: store.in_use(VENUE),
                             lambda: store.use(VENUE, kid(1))],
               "secrets_path": [lambda: store.secret(kid(1))]}[which]
    for call in [*readers, lambda: add(store, 2), lambda: store.remove(kid(1))]:
        with pytest.raises(KeyStoreError, match=re.escape(str(path))):
            call()
    assert path.read_bytes() == corrupt


def test_json_of_the_wrong_shape_is_reported(store):
    add(store, 1)
    store.meta_path.write_text('["not", "a", "key", "file"]')
    with pytest.raises(KeyStoreError, match="not a desk key file"):
        store.list()


def test_two_stores_over_one_directory_see_each_others_writes(tmp_path):
    a, b = KeyStore(tmp_path), KeyStore(tmp_path)
    add(a, 1)
    assert [k.id for k in b.list()] == [kid(1)]
    add(b, 2)
    b.use(VENUE, kid(2))
    assert a.in_use(VENUE).id == kid(2)
    same = a.secret(kid(2)) == fake_secret("C")
    assert same, "store a did not see store b's secret"
    a.remove(kid(2))
    assert b.in_use(VENUE) is None


def test_no_temp_files_are_left_behind(store):
    add(store, 1)
    add(store, 2)
    store.remove(kid(1))
    assert sorted(p.name for p in store.directory.iterdir()) == ["keys.json", "secrets.json"]


def test_default_directory_is_the_user_config_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_key_dir() == tmp_path / "desk"
    assert KeyStore().directory == tmp_path / "desk"
    assert not (tmp_path / "desk").exists()  # nothing is created until a write
