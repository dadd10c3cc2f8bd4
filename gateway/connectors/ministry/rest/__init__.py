"""The generic REST/JSON ministry profile (registered as ``"rest"``): configuration only."""

from gateway.connectors.ministry.rest.profile import (
    RestCall,
    RestCaseProfile,
    RestResultFields,
    RestSettings,
    build,
    pick,
)

__all__ = ["RestCall", "RestCaseProfile", "RestResultFields", "RestSettings", "build", "pick"]
