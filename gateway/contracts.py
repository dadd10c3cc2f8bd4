"""The contract files: the packet XSD, loaded once, and the JSON Schemas of our models.

Global state department: the compiled XSD is cached here for the life of the process (compiling
it costs ~1 ms for libxml2 but ~120 ms for ``xmlschema``, which is therefore loaded only when a
packet first fails). Tests that need a fresh load call :func:`reset_contracts`.

The contracts live at the top of the repository (``contracts/``); a built wheel carries a copy
as ``gateway/_contracts`` (hatch force-include), which wins when present.
Run ``python -m gateway.contracts`` in a checkout to rewrite the JSON Schemas after a model change.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lxml import etree
from pydantic import BaseModel

from gateway.errors import ConfigurationError
from gateway.mappers.xml import XmlCodec
from gateway.schemas.national import DossierRecord, ProgressRecord
from gateway.schemas.provincial import Dossier, ProgressStep

if TYPE_CHECKING:
    import xmlschema

__all__ = [
    "JSON_SCHEMA_FILES",
    "XSD_FILE",
    "contracts_dir",
    "json_schemas",
    "packet_xmlschema",
    "packet_xsd",
    "reset_contracts",
    "write_json_schemas",
    "xml_codec",
]

XSD_FILE = "dvcqg-packets.xsd"

JSON_SCHEMA_FILES: dict[str, type[BaseModel]] = {
    "provincial-dossier.schema.json": Dossier,
    "provincial-step.schema.json": ProgressStep,
    "national-dossier.schema.json": DossierRecord,
    "national-step.schema.json": ProgressRecord,
}
"""File name → model. National models are exported by alias (the national field names)."""

_PACKAGE = Path(__file__).resolve().parent
_CANDIDATES = (_PACKAGE / "_contracts", _PACKAGE.parent / "contracts")


def contracts_dir() -> Path:
    """The directory holding the contracts: the wheel's copy, else the checkout's.

    Raises ConfigurationError when neither holds the XSD (a broken install).
    """
    for candidate in _CANDIDATES:
        if (candidate / XSD_FILE).is_file():
            return candidate
    tried = ", ".join(str(c) for c in _CANDIDATES)
    raise ConfigurationError(f"contracts not found: no {XSD_FILE} in {tried}")


@functools.cache
def packet_xsd() -> etree.XMLSchema:
    """The packet XSD compiled by libxml2: the validator every XML packet goes through."""
    path = contracts_dir() / XSD_FILE
    # Our own file, but parsed as strictly as any input: nothing fetched, nothing expanded.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        return etree.XMLSchema(etree.parse(str(path), parser))
    except (OSError, etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
        raise ConfigurationError(f"cannot load {path}: {exc}") from exc


@functools.cache
def packet_xmlschema() -> xmlschema.XMLSchema:
    """The same XSD loaded by ``xmlschema``: slow, used to explain a failure with paths."""
    import xmlschema  # imported on first need: only failing packets use it

    path = contracts_dir() / XSD_FILE
    try:
        # "local": never fetch over the network. (Its "sandbox" would also refuse to validate
        # in-memory lxml trees, which have no URL.)
        return xmlschema.XMLSchema(str(path), allow="local")
    except (OSError, xmlschema.XMLSchemaException) as exc:
        raise ConfigurationError(f"cannot load {path}: {exc}") from exc


@functools.cache
def xml_codec() -> XmlCodec:
    """The process-wide XML codec (thread-safe), built on first use."""
    return XmlCodec(packet_xsd(), packet_xmlschema)


def reset_contracts() -> None:
    """Forget the loaded schemas so the next call reloads them (tests)."""
    for cached in (packet_xsd, packet_xmlschema, xml_codec):
        cached.cache_clear()


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of each model in :data:`JSON_SCHEMA_FILES`, keyed by file name."""
    out: dict[str, dict[str, Any]] = {}
    for name, model in JSON_SCHEMA_FILES.items():
        stem = name.removesuffix(".schema.json")
        out[name] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"urn:tthc-gateway:json:{stem}:1",
            **model.model_json_schema(by_alias=True),
        }
    return out


def write_json_schemas(directory: Path) -> list[Path]:
    """Write :func:`json_schemas` into ``directory`` (UTF-8, 2-space indent); the paths written."""
    written = []
    for name, schema in json_schemas().items():
        path = directory / name
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    # Write into the checkout (the wheel's copy is not the source of truth).
    for written_path in write_json_schemas(_CANDIDATES[1]):
        sys.stdout.write(f"wrote {written_path}\n")
