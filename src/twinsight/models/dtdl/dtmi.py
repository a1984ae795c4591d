"""Digital Twin Model Identifiers: syntax, versions and length limits per DTDL version."""

from __future__ import annotations

import re

_SEGMENT = r"[A-Za-z_](?:[A-Za-z0-9_]*[A-Za-z0-9])?"
_V2 = re.compile(rf"dtmi:{_SEGMENT}(?::{_SEGMENT})*;[1-9][0-9]{{0,8}}\Z")
_V3 = re.compile(
    rf"dtmi:{_SEGMENT}(?::{_SEGMENT})*(?:;[1-9][0-9]{{0,8}}(?:\.[1-9][0-9]{{0,5}})?)?\Z"
)
_ANY = re.compile(
    rf"dtmi:{_SEGMENT}(?::{_SEGMENT})*(?:;[1-9][0-9]{{0,8}}(?:\.[1-9][0-9]{{0,5}})?)?\Z"
)

MAX_LENGTH = 4096
USER_MAX_LENGTH = 2048
INTERFACE_MAX_LENGTH = 128
RESERVED_PREFIXES = ("dtmi:dtdl:", "dtmi:standard:")


def is_dtmi(text: str) -> bool:
    """Whether ``text`` is syntactically a DTMI in any DTDL version (system or user)."""
    return len(text) <= MAX_LENGTH and _ANY.match(text) is not None


def has_version(text: str) -> bool:
    """Whether the DTMI ends with a version (``;1``, or ``;1.2`` in DTDL v3).

    >>> has_version("dtmi:iotcentral:context;2"), has_version("dtmi:iotcentral:context")
    (True, False)
    """
    return ";" in text


def is_system(text: str) -> bool:
    """Whether the DTMI has a segment starting with an underscore (reserved for generated ids)."""
    path = text[5:].split(";", 1)[0]
    return any(segment.startswith("_") for segment in path.split(":"))


def check(text: str, version: int, *, interface: bool = False) -> str | None:
    """Why ``text`` is not an acceptable ``@id`` in a model of this version, or ``None``.

    >>> check("dtmi:com:example:Thermostat;1", 2) is None
    True
    >>> check("dtmi:com:example:Thermostat;1.2", 2)
    'not a valid DTMI for DTDL v2'
    >>> check("dtmi:com:example:Thermostat;1.2", 3) is None
    True
    """
    pattern = _V2 if version == 2 else _V3
    if not pattern.match(text):
        return f"not a valid DTMI for DTDL v{version}"
    if is_system(text):
        return "a system DTMI (a segment starts with '_'), which models may not use"
    if len(text) > USER_MAX_LENGTH:
        return f"longer than {USER_MAX_LENGTH} characters"
    if interface and len(text) > INTERFACE_MAX_LENGTH:
        return f"longer than {INTERFACE_MAX_LENGTH} characters, the limit for an Interface"
    if text.startswith(RESERVED_PREFIXES):
        return "uses a prefix reserved by the DTDL language"
    return None


def child_id(parent: str, prop: str, name: str | None = None) -> str:
    """The identifier DTDL assigns to an element without ``@id`` (spec: automatic ids)."""
    base, semi, version = parent.partition(";")
    extra = f":_{prop}" + (f":__{name}" if name is not None else "")
    return f"{base}{extra}{semi}{version}"
