"""A property-based fuzz run of every route in the OpenAPI document (schemathesis).

Bounded: a few examples per operation, in the ordinary test run (so in CI). Every answer must be
a documented status, with a documented content type and body schema, and never a 5xx. The DVCQG
intake carries its session inside the body, which schemathesis cannot produce: it meets 401s
here, and is fuzzed with hypothesis in ``test_api_dvcqg_fuzz.py``.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.errors import InvalidSchema
from schemathesis.core.result import Ok, Result
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.api import create_app
from gateway.service import GatewayService

EXAMPLES = int(os.environ.get("GATEWAY_FUZZ_EXAMPLES", "8"))
"""Examples per operation: bounded, so the run takes seconds in every test run."""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _run(operation: Any) -> None:
    """Fuzz one operation with EXAMPLES cases."""
    # /health/ready answers a documented 503 while no worker runs (none does here).
    checks = CHECKS[1:] if operation.path == "/health/ready" else CHECKS

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        # The operator key opens every route; native writes then meet its agency scope ("*").
        case.call_and_validate(headers={"Authorization": "Bearer ops-key"}, checks=checks)

    run()


def _operation(
    result: Result[APIOperation[Any, Any, Any, Any], InvalidSchema],
) -> APIOperation[Any, Any, Any, Any]:
    """A loaded operation (an ``Err`` has no ``ok()``: the schema failed to load)."""
    assert isinstance(result, Ok)
    return result.ok()


def test_every_route_answers_as_documented(service: GatewayService) -> None:
    """No 5xx, and every status, content type and body as the OpenAPI document says."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(service))
    operations = [_operation(result) for result in schema.get_all_operations()]
    assert len(operations) >= 15
    failures: list[str] = []
    for operation in operations:
        try:
            _run(operation)
        except Exception as exc:  # collected, so one run reports every route
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
