"""Ministry systems at run time: the case store, tracking (poll, feed, callbacks) and the flow
of results back to the provincial webhook and the DVCQG progress steps.

Protocol details live in the profiles (:mod:`gateway.connectors.ministry`); everything here is
generic.
"""

from gateway.ministry.flow import EVENT_TYPE, NATIONAL_STATUS, FlowBack, progress_record
from gateway.ministry.service import MinistryService, Tick, build_connectors
from gateway.ministry.store import CaseStore, Observed, StoredCase

__all__ = [
    "EVENT_TYPE",
    "NATIONAL_STATUS",
    "CaseStore",
    "FlowBack",
    "MinistryService",
    "Observed",
    "StoredCase",
    "Tick",
    "build_connectors",
    "progress_record",
]
