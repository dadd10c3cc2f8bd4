"""Observability: correlation ids, structured JSON logs (masking is :mod:`gateway.logmask`)."""

from gateway.observability.correlation import bind, current, new_cid, valid_cid
from gateway.observability.jsonlog import JsonFormatter, configure

__all__ = ["JsonFormatter", "bind", "configure", "current", "new_cid", "valid_cid"]
