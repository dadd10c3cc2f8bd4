"""RFC 9457 problem details: the one error shape of the HTTP API.

Every error the API returns is ``application/problem+json`` with ``type``, ``title``, ``status``,
``detail`` and, for bad input, ``errors: [{path, rule, message}]`` (the
:class:`~gateway.errors.Violation` fields). Extension members (``rule``, ``error_code`` …) may be
added; the DVCQG-compatible intake adds ``error_code`` and ``message`` so that clients written for
the portal read the answer as they always did.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from fastapi.responses import Response

from gateway.errors import Violation

__all__ = ["PROBLEM_JSON", "Problem", "problem_response", "violations_json"]

PROBLEM_JSON = "application/problem+json"
_TYPE_BASE = "https://tthc-gateway.example/problems/"

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    408: "Request timeout",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


def violations_json(violations: Iterable[Violation]) -> list[dict[str, str]]:
    """Violations as the ``errors`` member: ``[{path, rule, message}]``."""
    return [{"path": v.path, "rule": v.rule, "message": v.message} for v in violations]


class Problem(Exception):
    """Raise to answer with a problem document; handled by the app's exception handler.

    ``kind`` becomes the last segment of ``type`` (a stable machine-readable name);
    ``extensions`` are extra top-level members; ``headers`` extra response headers.
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        title: str | None = None,
        errors: Iterable[Violation] = (),
        extensions: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.title = title or _TITLES.get(status, "Error")
        self.errors = tuple(errors)
        self.extensions = dict(extensions or {})
        self.headers = dict(headers or {})

    def to_json(self) -> dict[str, Any]:
        """The problem document."""
        body: dict[str, Any] = {
            "type": _TYPE_BASE + self.kind if self.kind else "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = violations_json(self.errors)
        body.update(self.extensions)
        return body

    def response(self) -> Response:
        """The problem as a response."""
        return problem_response(self)


def problem_response(problem: Problem) -> Response:
    """Render ``problem`` as ``application/problem+json`` with its status and headers."""
    return Response(
        content=orjson.dumps(problem.to_json()),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )
