"""Translate pydantic's ``ValidationError`` into the gateway's ``ContractError``.

The API, the CLI and the pipeline all report bad input the same way: one
:class:`~gateway.errors.Violation` per broken rule, with a dotted path in the names the caller
used (national names for national records, because those models validate by alias) and pydantic's
error type as the stable rule name (``string_too_long``, ``dossier_number_shape`` …).
"""

from __future__ import annotations

from pydantic import ValidationError

from gateway.errors import ContractError, Violation

__all__ = ["contract_error_from"]


def contract_error_from(
    exc: ValidationError, *, source: str | None = None, prefix: str = ""
) -> ContractError:
    """A :class:`ContractError` listing every error of ``exc`` as path + rule + message.

    ``prefix`` is put before each path, e.g. ``"data.3"`` for the fourth record of a batch, giving
    ``data.3.TaiLieuNop.0.TenTepDinhKem``. ``source`` names the input (a file, a service) in the
    message. The ``ValidationError`` is kept as ``__cause__``; the caller still writes
    ``raise contract_error_from(exc) from exc`` so the chain is explicit at the raise site.
    """
    violations = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        parts = [str(p) for p in err["loc"]]
        if prefix:
            parts.insert(0, prefix)
        violations.append(Violation(".".join(parts), err["type"], err["msg"]))
    error = ContractError(violations, source=source)
    error.__cause__ = exc
    return error
