"""Test helpers shipped with the gateway, for our tests and the provinces' integration tests.

:class:`FakePortal` is an in-memory national portal with failure injection; serve it on loopback
with :class:`FakePortalServer`, or in-process through ``FakePortal.transport()`` or a respx route.
"""

from gateway.testing._server import FakePortalServer
from gateway.testing.fake_portal import FakePortal, PortalAnswer, PortalCall

__all__ = ["FakePortal", "FakePortalServer", "PortalAnswer", "PortalCall"]
