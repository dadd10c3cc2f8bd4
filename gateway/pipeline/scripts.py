"""The outbox's Lua scripts, loaded from ``lua/*.lua``: every state change is one atomic call.

Each script is ``_prelude.lua`` (shared helpers and the channel arguments ARGV 1–6: namespace,
now, channel id, mode, the channel waited for, the channels that wait) plus, for the scripts
that settle a claimed batch, ``_each.lua``, plus its own file. Key names: :mod:`.keys`.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["NAMES", "source"]

NAMES = (
    "accept",
    "accept_pinned",
    "claim",
    "complete",
    "deadletter",
    "discard",
    "recover",
    "replay",
    "reschedule",
    "resolve",
    "solo",
)
_SETTLING = frozenset({"complete", "deadletter", "reschedule", "solo"})
# Scripts that are another script behind a guard fragment: name -> (fragment, script).
_GUARDED = {"accept_pinned": ("_guard_pins", "accept")}


def _read(name: str) -> str:
    return resources.files("gateway.pipeline").joinpath("lua", f"{name}.lua").read_text("utf-8")


@cache
def source(name: str) -> str:
    """The full text of script ``name`` (one of :data:`NAMES`)."""
    if name not in NAMES:
        raise KeyError(name)
    parts = [_read("_prelude")]
    if name in _SETTLING:
        parts.append(_read("_each"))
    parts.extend(_read(n) for n in _GUARDED.get(name, (name,)))
    return "\n".join(parts)
