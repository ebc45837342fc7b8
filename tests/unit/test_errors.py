"""errors.error_body / http_status: the one mapping of exceptions to wire codes."""

from __future__ import annotations

import pytest

from roomcast import errors
from roomcast.errors import RoomcastError, error_body, http_status

ALL = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, RoomcastError)]


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_error_class_maps_to_its_code(cls):
    exc = cls()
    assert error_body(exc) == {"type": "error", "code": cls.code, "message": cls.default_message}
    assert error_body(exc, "r1")["request_id"] == "r1"
    assert http_status(exc) == cls.http_status
    assert 400 <= cls.http_status <= 599


def test_codes_are_stable_snake_case_and_unique():
    codes = [c.code for c in ALL if c is not RoomcastError]
    assert len(codes) == len(set(codes))
    assert all(code.replace("_", "").isalpha() and code == code.lower() for code in codes)


@pytest.mark.parametrize(
    ("cls", "code", "status"),
    [
        (errors.InvalidFrame, "invalid_frame", 400),
        (errors.UnknownAction, "unknown_action", 400),
        (errors.PayloadTooLarge, "payload_too_large", 413),
        (errors.InvalidCursor, "invalid_cursor", 400),
        (errors.Unauthorized, "unauthorized", 401),
        (errors.Forbidden, "forbidden", 403),
        (errors.NotMember, "not_member", 403),
        (errors.RoomNotFound, "room_not_found", 404),
        (errors.RoomClosed, "room_closed", 409),
        (errors.Conflict, "conflict", 409),
        (errors.BadRequest, "bad_request", 400),
    ],
)
def test_documented_codes(cls, code, status):
    assert (cls.code, cls.http_status) == (code, status)


def test_custom_message_is_kept():
    assert error_body(errors.NotMember("join lobby first"))["message"] == "join lobby first"


@pytest.mark.parametrize("exc", [ValueError("secret detail"), KeyError("k"), RuntimeError("/path/to/file.py line 3")])
def test_unexpected_exceptions_hide_their_detail(exc):
    body = error_body(exc, "r9")
    assert body == {"type": "error", "code": "internal_error", "message": "internal error", "request_id": "r9"}
    assert http_status(exc) == 500


def test_no_request_id_key_without_one():
    assert "request_id" not in error_body(errors.InvalidFrame())
