"""TF Serving's error statuses: a canonical code, a message and the HTTP status it maps to."""

from __future__ import annotations

# ToHTTPStatusCode in tensorflow_serving/model_servers/http_server.cc, keyed by the
# error::Code names in their numeric order (tensorflow/core/protobuf/error_codes.proto).
HTTP_STATUS = {
    "OK": 200,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
    "UNAUTHENTICATED": 401,
}


def code_name(number: int) -> str:
    """The error::Code name of a canonical code number (TensorFlow's OpError.error_code)."""
    names = list(HTTP_STATUS)
    return names[number] if 0 <= number < len(names) else "UNKNOWN"


class ServingError(Exception):
    """A non-OK status: `code` is the error::Code name, str() the status message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code if code in HTTP_STATUS else "UNKNOWN"

    @property
    def message(self) -> str:
        return str(self)

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]

    def status_string(self) -> str:
        """absl::Status::ToString(): how nested errors and the logs show a status."""
        return f"{self.code}: {self}"


def invalid_argument(*parts: object) -> ServingError:
    return ServingError("INVALID_ARGUMENT", "".join(str(part) for part in parts))
