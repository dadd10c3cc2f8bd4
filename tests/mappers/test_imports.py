"""The record mappers stay pure: they import only the schemas, the error tree and the stdlib.

The ``gateway/mappers/xml*.py`` modules are left out on purpose: ``xml.py`` (the codec),
``xml_safety.py`` (safe parsing) and ``xml_errors.py`` (explaining XSD failures) use lxml, and
``xml_errors.py`` xmlschema; ``xml.py`` also imports gateway.contracts lazily for its default
codec, as its docstring says. The modules checked here are the ones on the JSON intake path.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import gateway.mappers

ALLOWED_OURS = ("gateway.schemas", "gateway.errors", "gateway.mappers")
ALLOWED_THIRD_PARTY = ("pydantic", "pydantic_core")
PURE_MODULES = ("_scalars", "dates", "dossier", "errors", "progress")


def imported_modules(path: Path) -> set[str]:
    """Top-level module names imported by the source file at ``path``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_mappers_import_only_schemas_errors_and_stdlib() -> None:
    """No mapper module imports connectors, the pipeline, I/O libraries or anything else."""
    package = Path(gateway.mappers.__file__).parent
    for path in (package / f"{name}.py" for name in PURE_MODULES):
        for name in imported_modules(path):
            top = name.split(".")[0]
            ok = (
                name.startswith(ALLOWED_OURS)
                or top in ALLOWED_THIRD_PARTY
                or (top in sys.stdlib_module_names and top not in {"socket", "io", "os"})
                or name == "__future__"
            )
            assert ok, f"{path.name} imports {name}"
