"""Constants and types shared by the schema tests (fixtures live in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta, timezone

Loc = tuple[int | str, ...]
Refuse = Callable[..., list[tuple[Loc, str]]]
"""``refuse(model, data, context=None)``: the (loc, type) pairs of the expected ValidationError."""

UTC7 = timezone(timedelta(hours=7))

# A personal ID consistent with a man born in 2005 whose birth was registered in Hồ Chí Minh City
# (079): digit 4 "2" = 2000s and male, digits 5-6 "05".
PERSONAL_ID = "079205012345"
OLD_ID_CARD = "023456789"
