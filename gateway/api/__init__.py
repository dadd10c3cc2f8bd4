"""The HTTP API: DVCQG-compatible intake, native API, operations, health and metrics.

Build it with :func:`create_app` around a :class:`~gateway.service.GatewayService`; serve it
with any ASGI server (``uvicorn``).
"""

from gateway.api.app import create_app

__all__ = ["create_app"]
