from __future__ import annotations

import pickle

import pytest

import heron
from heron import codes

# Every status code httpx 0.28.1 knows, with its name and reason phrase (the IANA registry,
# keeping the pre-RFC 9110 phrases for 413, 414, 416 and 422).
ALL_CODES = [
    (100, "CONTINUE", "Continue"),
    (101, "SWITCHING_PROTOCOLS", "Switching Protocols"),
    (102, "PROCESSING", "Processing"),
    (103, "EARLY_HINTS", "Early Hints"),
    (200, "OK", "OK"),
    (201, "CREATED", "Created"),
    (202, "ACCEPTED", "Accepted"),
    (203, "NON_AUTHORITATIVE_INFORMATION", "Non-Authoritative Information"),
    (204, "NO_CONTENT", "No Content"),
    (205, "RESET_CONTENT", "Reset Content"),
    (206, "PARTIAL_CONTENT", "Partial Content"),
    (207, "MULTI_STATUS", "Multi-Status"),
    (208, "ALREADY_REPORTED", "Already Reported"),
    (226, "IM_USED", "IM Used"),
    (300, "MULTIPLE_CHOICES", "Multiple Choices"),
    (301, "MOVED_PERMANENTLY", "Moved Permanently"),
    (302, "FOUND", "Found"),
    (303, "SEE_OTHER", "See Other"),
    (304, "NOT_MODIFIED", "Not Modified"),
    (305, "USE_PROXY", "Use Proxy"),
    (307, "TEMPORARY_REDIRECT", "Temporary Redirect"),
    (308, "PERMANENT_REDIRECT", "Permanent Redirect"),
    (400, "BAD_REQUEST", "Bad Request"),
    (401, "UNAUTHORIZED", "Unauthorized"),
    (402, "PAYMENT_REQUIRED", "Payment Required"),
    (403, "FORBIDDEN", "Forbidden"),
    (404, "NOT_FOUND", "Not Found"),
    (405, "METHOD_NOT_ALLOWED", "Method Not Allowed"),
    (406, "NOT_ACCEPTABLE", "Not Acceptable"),
    (407, "PROXY_AUTHENTICATION_REQUIRED", "Proxy Authentication Required"),
    (408, "REQUEST_TIMEOUT", "Request Timeout"),
    (409, "CONFLICT", "Conflict"),
    (410, "GONE", "Gone"),
    (411, "LENGTH_REQUIRED", "Length Required"),
    (412, "PRECONDITION_FAILED", "Precondition Failed"),
    (413, "REQUEST_ENTITY_TOO_LARGE", "Request Entity Too Large"),
    (414, "REQUEST_URI_TOO_LONG", "Request-URI Too Long"),
    (415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported Media Type"),
    (416, "REQUESTED_RANGE_NOT_SATISFIABLE", "Requested Range Not Satisfiable"),
    (417, "EXPECTATION_FAILED", "Expectation Failed"),
    (418, "IM_A_TEAPOT", "I'm a teapot"),
    (421, "MISDIRECTED_REQUEST", "Misdirected Request"),
    (422, "UNPROCESSABLE_ENTITY", "Unprocessable Entity"),
    (423, "LOCKED", "Locked"),
    (424, "FAILED_DEPENDENCY", "Failed Dependency"),
    (425, "TOO_EARLY", "Too Early"),
    (426, "UPGRADE_REQUIRED", "Upgrade Required"),
    (428, "PRECONDITION_REQUIRED", "Precondition Required"),
    (429, "TOO_MANY_REQUESTS", "Too Many Requests"),
    (431, "REQUEST_HEADER_FIELDS_TOO_LARGE", "Request Header Fields Too Large"),
    (451, "UNAVAILABLE_FOR_LEGAL_REASONS", "Unavailable For Legal Reasons"),
    (500, "INTERNAL_SERVER_ERROR", "Internal Server Error"),
    (501, "NOT_IMPLEMENTED", "Not Implemented"),
    (502, "BAD_GATEWAY", "Bad Gateway"),
    (503, "SERVICE_UNAVAILABLE", "Service Unavailable"),
    (504, "GATEWAY_TIMEOUT", "Gateway Timeout"),
    (505, "HTTP_VERSION_NOT_SUPPORTED", "HTTP Version Not Supported"),
    (506, "VARIANT_ALSO_NEGOTIATES", "Variant Also Negotiates"),
    (507, "INSUFFICIENT_STORAGE", "Insufficient Storage"),
    (508, "LOOP_DETECTED", "Loop Detected"),
    (510, "NOT_EXTENDED", "Not Extended"),
    (511, "NETWORK_AUTHENTICATION_REQUIRED", "Network Authentication Required"),
]


def test_codes_has_exactly_the_registry() -> None:
    assert [(int(member), member.name, member.phrase) for member in codes] == ALL_CODES
    assert len(codes.__members__) == len(ALL_CODES)


@pytest.mark.parametrize(("value", "name", "phrase"), ALL_CODES)
def test_each_code_has_its_name_phrase_and_lower_case_alias(
    value: int, name: str, phrase: str
) -> None:
    member = codes(value)
    assert member is getattr(codes, name)
    assert member == value
    assert member.phrase == phrase
    assert codes.get_reason_phrase(value) == phrase
    assert getattr(codes, name.lower()) is member


def test_str_and_format_give_the_number() -> None:
    assert str(codes.NOT_FOUND) == "404"
    assert f"{codes.OK}" == "200"
    assert f"{codes.OK:>5}" == "  200"
    assert "%s" % codes.CREATED == "201"  # noqa: UP031 - the %-format path is what is tested


def test_repr_names_the_member() -> None:
    assert repr(codes.NOT_FOUND) == "<codes.NOT_FOUND: 404>"


def test_members_are_ints() -> None:
    assert isinstance(codes.OK, int)
    status: int = codes.OK
    assert status == 200
    assert codes.OK + 1 == 201
    assert 400 <= codes.NOT_FOUND < 500
    assert {200: "ok"}[codes.OK] == "ok"
    assert hash(codes.OK) == hash(200)


def test_lower_case_aliases_are_not_extra_members() -> None:
    assert codes.ok is codes.OK  # type: ignore[attr-defined]
    assert codes.not_found is codes.NOT_FOUND  # type: ignore[attr-defined]
    assert "ok" not in codes.__members__
    with pytest.raises(KeyError):
        codes["ok"]
    assert codes["OK"] is codes.OK


def test_unknown_code_lookup_raises_value_error() -> None:
    with pytest.raises(ValueError, match="999"):
        codes(999)


@pytest.mark.parametrize("value", [0, 99, 199, 306, 600, 999, -1])
def test_get_reason_phrase_is_empty_for_unknown_codes(value: int) -> None:
    assert codes.get_reason_phrase(value) == ""


def test_get_reason_phrase_accepts_a_member() -> None:
    assert codes.get_reason_phrase(codes.IM_A_TEAPOT) == "I'm a teapot"


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (99, None),
        (100, "informational"),
        (199, "informational"),
        (200, "success"),
        (299, "success"),
        (300, "redirect"),
        (304, "redirect"),
        (399, "redirect"),
        (400, "client_error"),
        (499, "client_error"),
        (500, "server_error"),
        (599, "server_error"),
        (600, None),
    ],
)
def test_range_predicates(value: int, kind: str | None) -> None:
    for name in ("informational", "success", "redirect", "client_error", "server_error"):
        assert getattr(codes, f"is_{name}")(value) is (name == kind), name
    assert codes.is_error(value) is (kind in ("client_error", "server_error"))


def test_predicates_work_on_members_too() -> None:
    assert codes.NOT_FOUND.is_client_error(codes.NOT_FOUND)
    assert codes.is_success(codes.NO_CONTENT)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_members_survive_pickle(protocol: int) -> None:
    assert pickle.loads(pickle.dumps(codes.NOT_FOUND, protocol)) is codes.NOT_FOUND


def test_codes_is_exported_from_heron() -> None:
    assert heron.codes is codes
    assert codes.__module__ == "heron"
