"""The gateway's exception tree: one root, every error carries the data a caller acts on.

::

    GatewayError
    ├── ConfigurationError          the gateway was set up wrongly; fix the config and restart
    ├── ContractError               input broke a contract: .violations lists path + rule
    │   └── UnsafeXMLError          XML with a DTD, an entity or other parser tricks; never expanded
    ├── PeerError                   a national peer failed: .system, .operation, .status, .peer_code
    │   ├── TransientPeerError      worth retrying (timeouts, connection errors, 429, 5xx)
    │   │   └── PeerAuthError       the peer refused the gateway's own credentials (config)
    │   └── PermanentPeerError      retrying cannot help: dead-letter at once
    │       └── PeerReplyError      the peer's reply broke its contract (.rule names how)
    ├── WebhookSignatureError       a webhook's signature headers are missing, stale or wrong
    ├── AuditUnavailableError       the audit chain cannot be written: refuse new work (503)
    └── PipelineError               the delivery pipeline refused or lost track of something
        ├── IdempotencyError        misuse of an Idempotency-Key (.status is the HTTP status)
        ├── TransitionError         a dossier status change the life-cycle table forbids
        └── NotFoundError           an id (delivery, dead letter, dossier) that the gateway lacks

Connectors translate httpx/zeep/provider failures into ``PeerError`` subclasses right at the
boundary (``raise ... from exc``) so the pipeline never looks at a status code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "AuditUnavailableError",
    "ConfigurationError",
    "ContractError",
    "GatewayError",
    "IdempotencyError",
    "NotFoundError",
    "PeerAuthError",
    "PeerError",
    "PeerReplyError",
    "PermanentPeerError",
    "PipelineError",
    "TransientPeerError",
    "TransitionError",
    "UnsafeXMLError",
    "Violation",
    "WebhookSignatureError",
    "plain_peer_code",
    "scrub_peer_text",
]


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose."""


class AuditUnavailableError(GatewayError):
    """The audit chain's store cannot be written; the gateway takes no new work until it can."""


class ConfigurationError(GatewayError):
    """The configuration is missing, contradictory or points at something unusable."""


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: where (dotted path, national field names kept) and which rule.

    ``path`` is like ``data.0.TaiLieuNop.2.TenTepDinhKem``; ``rule`` is a stable machine-readable
    name (``string_too_long``, ``dossier_number_shape`` …); ``message`` is for people.
    """

    path: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '<root>'}: {self.message} [{self.rule}]"


class ContractError(GatewayError):
    """Input does not satisfy a contract (schema, code table, business rule, XML safety)."""

    def __init__(self, violations: Iterable[Violation], *, source: str | None = None) -> None:
        self.violations: tuple[Violation, ...] = tuple(violations)
        self.source = source
        head = f"{source}: " if source else ""
        lines = "; ".join(str(v) for v in self.violations[:5])
        more = f" (+{len(self.violations) - 5} more)" if len(self.violations) > 5 else ""
        super().__init__(f"{head}{len(self.violations)} violation(s): {lines}{more}")

    @classmethod
    def single(cls, path: str, rule: str, message: str) -> ContractError:
        """Shorthand for an error with one violation."""
        return cls([Violation(path, rule, message)])


class UnsafeXMLError(ContractError):
    """XML that uses a DTD, entities or other constructs we refuse to process."""


_LONG_DIGITS = re.compile(r"[0-9]{9,}")
_PLAIN_CODE = re.compile(r"[A-Za-z0-9_.-]{1,16}")
_TEXT_LIMIT = 300


def scrub_peer_text(value: object) -> str:
    """A peer's free text made safe to log and store: runs of 9+ digits (personal ID and phone
    numbers, Decree 13/2023) hidden, and the length capped."""
    text = _LONG_DIGITS.sub("***", "" if value is None else str(value))
    return text if len(text) <= _TEXT_LIMIT else text[:_TEXT_LIMIT] + "…"


def plain_peer_code(value: str | None) -> str | None:
    """A peer's error code if it is a short plain code, else ``"other"``.

    Codes become dead-letter reasons and Prometheus labels: text the peer chooses must not carry
    personal data into them, nor grow the label set without bound.
    """
    if value is None:
        return None
    if _PLAIN_CODE.fullmatch(value) and not _LONG_DIGITS.search(value):
        return value
    return "other"


class PeerError(GatewayError):
    """A call to a national peer failed.

    ``system`` names the peer (``dvcqg``, ``population`` …), ``operation`` the call
    (``DongBoHoSoMC``), ``status`` the HTTP status if one came back, ``peer_code`` the peer's own
    error code (``error_code``, ``MaLoi`` …).
    """

    def __init__(
        self,
        message: str,
        *,
        system: str,
        operation: str,
        status: int | None = None,
        peer_code: str | None = None,
    ) -> None:
        # Scrubbed here, once, for every connector: these strings reach logs, dead letters,
        # the status endpoint and metric labels.
        self.message = scrub_peer_text(message)
        self.system = system
        self.operation = operation
        self.status = status
        self.peer_code = plain_peer_code(peer_code)
        super().__init__(f"{system}.{operation}: {self.message}")

    @property
    def reason(self) -> str:
        """A short stable label for metrics and dead-letter filters."""
        if self.peer_code is not None:
            return f"peer_code:{self.peer_code}"
        if self.status is not None:
            return f"http_{self.status}"
        return type(self).__name__


class TransientPeerError(PeerError):
    """Worth retrying later.

    ``retry_after`` (seconds) honours a peer's ``Retry-After``. ``ambiguous`` is true when the
    request may have reached the peer (a read timeout, a dropped connection after sending): the
    caller must ask the peer what it holds before sending again.
    """

    def __init__(
        self,
        message: str,
        *,
        system: str,
        operation: str,
        status: int | None = None,
        peer_code: str | None = None,
        retry_after: float | None = None,
        ambiguous: bool = False,
    ) -> None:
        super().__init__(
            message, system=system, operation=operation, status=status, peer_code=peer_code
        )
        self.retry_after = retry_after
        self.ambiguous = ambiguous


class PeerAuthError(TransientPeerError):
    """The peer refused the gateway's own credentials or session: a configuration problem.

    Never the records' fault, so it must not dead-letter them one by one: delivery backs off and
    resumes by itself once an operator fixes the credentials; only a spent retry budget buries
    the records. Nothing was sent, so it is never ambiguous.
    """

    @property
    def reason(self) -> str:
        """Dead letters and metrics say "auth", whatever the peer's own code."""
        return "auth_refused"


class PermanentPeerError(PeerError):
    """Retrying the same request cannot succeed (the peer rejected the record, auth is refused).

    ``rejected`` optionally lists the indexes (within the batch sent) of the records the peer
    named as invalid; an empty tuple means the whole request was refused.
    """

    def __init__(
        self,
        message: str,
        *,
        system: str,
        operation: str,
        status: int | None = None,
        peer_code: str | None = None,
        rejected: Sequence[int] = (),
    ) -> None:
        super().__init__(
            message, system=system, operation=operation, status=status, peer_code=peer_code
        )
        self.rejected = tuple(rejected)


class WebhookSignatureError(GatewayError):
    """A Standard Webhooks message failed verification: ``reason`` says which check.

    Reasons: ``missing_header``, ``bad_timestamp``, ``too_old``, ``too_new``, ``bad_signature``
    (no ``v1`` signature in the header matched any secret), ``bad_secret`` (a secret that is not
    ``whsec_<base64>``). The message never carries a secret or a signature.
    """

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(f"{reason}: {message}")


class PeerReplyError(PermanentPeerError):
    """The peer answered, but with a reply the gateway refuses to read (oversized, a DTD, the
    wrong namespace, a truncated envelope …).

    ``rule`` is the stable name of the broken rule (``xml_dtd_forbidden``, ``reply_namespace``
    …); the peer's own text is never kept.
    """

    def __init__(self, rule: str, *, system: str, operation: str, status: int | None = None):
        super().__init__(
            f"reply refused [{rule}]", system=system, operation=operation, status=status
        )
        self.rule = rule

    @property
    def reason(self) -> str:
        """``reply:<rule>``: which contract the reply broke."""
        return f"reply:{self.rule}"


class PipelineError(GatewayError):
    """The delivery pipeline refused a request or could not find what was asked for."""


class IdempotencyError(PipelineError):
    """An ``Idempotency-Key`` was missing, reused with another body, or is still in flight.

    ``status`` is the HTTP status the API answers with (400, 409 or 422).
    """

    def __init__(self, message: str, *, status: int) -> None:
        self.status = status
        super().__init__(message)


class TransitionError(PipelineError):
    """A dossier status change that the life-cycle table forbids (or an out-of-order one)."""

    def __init__(self, dossier: str, old: str, new: str, message: str) -> None:
        self.dossier = dossier
        self.old = old
        self.new = new
        super().__init__(message)


class NotFoundError(PipelineError):
    """The gateway holds nothing under that id."""
