"""HTTP status codes as an ``IntEnum`` that carries each code's reason phrase.

The set of codes and their phrases follow httpx (and so the IANA registry as of RFC 7231),
because ``Response.reason_phrase`` falls back to them and users compare against them.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["codes"]


# The lower-case class name is httpx's, kept so that `heron.codes` ports unchanged.
class codes(IntEnum):
    """HTTP status codes and their reason phrases.

    Each member is an ``int`` with a ``phrase``; lower-case aliases (``codes.not_found``)
    name the same members. ``str(codes.NOT_FOUND)`` is ``"404"``::

        >>> codes.NOT_FOUND, codes.NOT_FOUND.phrase
        (<codes.NOT_FOUND: 404>, 'Not Found')
        >>> codes.get_reason_phrase(418)
        "I'm a teapot"
        >>> codes.is_client_error(404)
        True

    The codes come from RFC 7231 (HTTP/1.1 semantics) and the RFCs that registered further
    codes: 6585, 3229, 4918, 5842, 7238, 2295, 2774, 7540, 2324, 7725, 8297 and 8470. The
    phrases are the registry's older wording where RFC 9110 renamed a code (413, 414, 416,
    422), as httpx keeps them.
    """

    phrase: str

    # `phrase` has a default only so that type checkers accept the lookup `codes(404)`.
    def __new__(cls, value: int, phrase: str = "") -> codes:
        member = int.__new__(cls, value)
        member._value_ = value
        member.phrase = phrase
        return member

    def __str__(self) -> str:
        # Python 3.11 already renders IntEnum members as their number; say so explicitly.
        return str(self.value)

    @classmethod
    def get_reason_phrase(cls, value: int) -> str:
        """Return the reason phrase for ``value``, or ``""`` if the code is unknown."""
        return _PHRASES.get(value, "")

    @classmethod
    def is_informational(cls, value: int) -> bool:
        """``True`` for 1xx status codes."""
        return 100 <= value <= 199

    @classmethod
    def is_success(cls, value: int) -> bool:
        """``True`` for 2xx status codes."""
        return 200 <= value <= 299

    @classmethod
    def is_redirect(cls, value: int) -> bool:
        """``True`` for 3xx status codes."""
        return 300 <= value <= 399

    @classmethod
    def is_client_error(cls, value: int) -> bool:
        """``True`` for 4xx status codes."""
        return 400 <= value <= 499

    @classmethod
    def is_server_error(cls, value: int) -> bool:
        """``True`` for 5xx status codes."""
        return 500 <= value <= 599

    @classmethod
    def is_error(cls, value: int) -> bool:
        """``True`` for 4xx and 5xx status codes."""
        return 400 <= value <= 599

    # Informational: 1xx
    CONTINUE = 100, "Continue"
    SWITCHING_PROTOCOLS = 101, "Switching Protocols"
    PROCESSING = 102, "Processing"
    EARLY_HINTS = 103, "Early Hints"

    # Success: 2xx
    OK = 200, "OK"
    CREATED = 201, "Created"
    ACCEPTED = 202, "Accepted"
    NON_AUTHORITATIVE_INFORMATION = 203, "Non-Authoritative Information"
    NO_CONTENT = 204, "No Content"
    RESET_CONTENT = 205, "Reset Content"
    PARTIAL_CONTENT = 206, "Partial Content"
    MULTI_STATUS = 207, "Multi-Status"
    ALREADY_REPORTED = 208, "Already Reported"
    IM_USED = 226, "IM Used"

    # Redirection: 3xx
    MULTIPLE_CHOICES = 300, "Multiple Choices"
    MOVED_PERMANENTLY = 301, "Moved Permanently"
    FOUND = 302, "Found"
    SEE_OTHER = 303, "See Other"
    NOT_MODIFIED = 304, "Not Modified"
    USE_PROXY = 305, "Use Proxy"
    TEMPORARY_REDIRECT = 307, "Temporary Redirect"
    PERMANENT_REDIRECT = 308, "Permanent Redirect"

    # Client error: 4xx
    BAD_REQUEST = 400, "Bad Request"
    UNAUTHORIZED = 401, "Unauthorized"
    PAYMENT_REQUIRED = 402, "Payment Required"
    FORBIDDEN = 403, "Forbidden"
    NOT_FOUND = 404, "Not Found"
    METHOD_NOT_ALLOWED = 405, "Method Not Allowed"
    NOT_ACCEPTABLE = 406, "Not Acceptable"
    PROXY_AUTHENTICATION_REQUIRED = 407, "Proxy Authentication Required"
    REQUEST_TIMEOUT = 408, "Request Timeout"
    CONFLICT = 409, "Conflict"
    GONE = 410, "Gone"
    LENGTH_REQUIRED = 411, "Length Required"
    PRECONDITION_FAILED = 412, "Precondition Failed"
    REQUEST_ENTITY_TOO_LARGE = 413, "Request Entity Too Large"
    REQUEST_URI_TOO_LONG = 414, "Request-URI Too Long"
    UNSUPPORTED_MEDIA_TYPE = 415, "Unsupported Media Type"
    REQUESTED_RANGE_NOT_SATISFIABLE = 416, "Requested Range Not Satisfiable"
    EXPECTATION_FAILED = 417, "Expectation Failed"
    IM_A_TEAPOT = 418, "I'm a teapot"
    MISDIRECTED_REQUEST = 421, "Misdirected Request"
    UNPROCESSABLE_ENTITY = 422, "Unprocessable Entity"
    LOCKED = 423, "Locked"
    FAILED_DEPENDENCY = 424, "Failed Dependency"
    TOO_EARLY = 425, "Too Early"
    UPGRADE_REQUIRED = 426, "Upgrade Required"
    PRECONDITION_REQUIRED = 428, "Precondition Required"
    TOO_MANY_REQUESTS = 429, "Too Many Requests"
    REQUEST_HEADER_FIELDS_TOO_LARGE = 431, "Request Header Fields Too Large"
    UNAVAILABLE_FOR_LEGAL_REASONS = 451, "Unavailable For Legal Reasons"

    # Server error: 5xx
    INTERNAL_SERVER_ERROR = 500, "Internal Server Error"
    NOT_IMPLEMENTED = 501, "Not Implemented"
    BAD_GATEWAY = 502, "Bad Gateway"
    SERVICE_UNAVAILABLE = 503, "Service Unavailable"
    GATEWAY_TIMEOUT = 504, "Gateway Timeout"
    HTTP_VERSION_NOT_SUPPORTED = 505, "HTTP Version Not Supported"
    VARIANT_ALSO_NEGOTIATES = 506, "Variant Also Negotiates"
    INSUFFICIENT_STORAGE = 507, "Insufficient Storage"
    LOOP_DETECTED = 508, "Loop Detected"
    NOT_EXTENDED = 510, "Not Extended"
    NETWORK_AUTHENTICATION_REQUIRED = 511, "Network Authentication Required"


# Lower-case aliases (`codes.not_found`), as httpx provides. They are set after the class is
# built so that they stay out of `__members__` and iteration, as in httpx; unlike httpx they
# name the members themselves rather than plain ints, so `codes.ok.phrase` works too.
for _member in codes:
    setattr(codes, _member.name.lower(), _member)
del _member

_PHRASES: dict[int, str] = {member.value: member.phrase for member in codes}
