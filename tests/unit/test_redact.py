"""Secrets never reach a log: the redacting filter on loggers and handlers."""

from __future__ import annotations

import io
import logging
import uuid

import pytest

from desk.store.redact import SECRET_PATTERN, RedactingFilter, install, redact

SECRET = "ocx_sk_" + "A" * 43  # built at runtime: no secret-shaped literal in the repo
SESSION = "ocx_sess_" + "b" * 43
TOKEN = "t0k3n." + "Z" * 30


@pytest.fixture
def captured():
    """A fresh logger writing through a handler into a StringIO, with redaction installed."""
    logger = logging.getLogger(f"test.redact.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    install(logger)
    yield logger, stream
    logger.removeHandler(handler)


def test_secret_in_the_message_is_masked(captured):
    logger, out = captured
    logger.info("created key " + SECRET + " for bot")
    text = out.getvalue()
    leaked = SECRET in text
    assert not leaked, "a secret leaked into the log"
    assert "INFO created key ocx_sk_*** for bot" in text


def test_secret_in_percent_args_is_masked(captured):
    logger, out = captured
    logger.warning("key %s rejected (%d tries), headers=%r", SECRET, 3, {"x-api-key": SECRET})
    text = out.getvalue()
    leaked = SECRET in text
    assert not leaked, "a secret leaked into the log"
    assert "key ocx_sk_*** rejected (3 tries), headers={'x-api-key': '***'}" in text


def test_secret_in_an_exception_and_its_traceback_is_masked(captured):
    logger, out = captured
    try:
        raise ValueError(f"venue refused {SECRET} and {SESSION}")
    except ValueError:
        logger.exception("order path failed for %s", SECRET)
    text = out.getvalue()
    leaked = SECRET in text or SESSION in text
    assert not leaked, "a secret leaked into the logged traceback"
    assert "order path failed for ocx_sk_***" in text
    assert "Traceback (most recent call last)" in text
    assert "ValueError: venue refused ocx_sk_*** and ocx_sess_***" in text


def test_session_tokens_and_headers_are_masked(captured):
    logger, out = captured
    logger.debug("GET /perps/me with Authorization: Bearer %s", TOKEN)
    logger.debug("session %s, X-API-Key: %s; done", SESSION, "plainvalue123")
    text = out.getvalue()
    leaked = TOKEN in text or SESSION in text or "plainvalue123" in text
    assert not leaked, "a token leaked into the log"
    assert "Authorization: Bearer ***" in text
    assert "session ocx_sess_***, X-API-Key: ***; done" in text


def test_without_the_filter_the_capture_would_show_the_secret():
    """The harness itself can see a leak: guards the tests above against passing vacuously."""
    logger = logging.getLogger(f"test.redact.{uuid.uuid4().hex}")
    logger.propagate = False
    stream = io.StringIO()
    logger.addHandler(logging.StreamHandler(stream))
    logger.warning("key %s", SECRET)
    shown = SECRET in stream.getvalue()
    assert shown, "the capture could not see an unredacted secret"


def test_records_propagated_from_child_loggers_are_masked(captured):
    parent, out = captured
    parent.propagate = False
    child = logging.getLogger(parent.name + ".ocx.rest")
    child.error("401 for %s", SECRET)
    text = out.getvalue()
    leaked = SECRET in text
    assert not leaked, "a secret leaked into the log"
    assert "ERROR 401 for ocx_sk_***" in text


def test_install_is_idempotent_and_covers_logger_and_handlers(captured):
    logger, _ = captured
    install(logger)
    install(logger)
    for filterer in (logger, *logger.handlers):
        assert sum(isinstance(f, RedactingFilter) for f in filterer.filters) == 1


def test_install_defaults_to_the_root_logger():
    root = logging.getLogger()
    handler = logging.StreamHandler(io.StringIO())
    root.addHandler(handler)
    try:
        install()
        assert any(isinstance(f, RedactingFilter) for f in root.filters)
        assert any(isinstance(f, RedactingFilter) for f in handler.filters)
    finally:
        root.removeHandler(handler)
        for filterer in (root, *root.handlers):
            for f in [f for f in filterer.filters if isinstance(f, RedactingFilter)]:
                filterer.removeFilter(f)


def test_filter_keeps_every_record_and_tolerates_bad_args():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "key %s %s", (SECRET,), None)
    assert RedactingFilter().filter(record) is True
    message = record.getMessage()
    leaked = SECRET in message
    assert not leaked, "a secret leaked into the record"
    assert "ocx_sk_***" in message and "key %s %s" in message


def test_redact_keeps_surrounding_text_and_is_idempotent():
    text = f"a {SECRET}, b {SESSION}. Bearer {TOKEN} x-api-key={SECRET} end"
    once = redact(text)
    leaked = SECRET in once or SESSION in once or TOKEN in once
    assert not leaked, "redact() let a secret through"
    assert once == "a ocx_sk_***, b ocx_sess_***. Bearer *** x-api-key=*** end"
    assert redact(once) == once
    assert SECRET_PATTERN.search("nothing secret here: ocx_kid_0123456789abcdef") is None
