"""The public API: everything in ``gateway.__all__`` exists, and public names are listed."""

from __future__ import annotations

import gateway


def test_all_names_exist() -> None:
    """Each name in __all__ is importable from the package."""
    missing = [name for name in gateway.__all__ if not hasattr(gateway, name)]
    assert missing == []


def test_public_names_are_listed() -> None:
    """Every public attribute of the package (not a submodule) is named in __all__."""
    import types

    public = {
        name
        for name, value in vars(gateway).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public - set(gateway.__all__) == set()
