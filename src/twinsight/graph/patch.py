"""JSON Patch (RFC 6902) for twins, components and relationships, as Azure Digital Twins
applies it: ``add``, ``replace`` and ``remove`` only, paths into properties, components and
nested values, plus ``/$metadata/<property>/sourceTime`` to record when a value was measured.

The patch is applied to a copy; the caller validates the result against the model and only
then stores it, so a patch that fails halfway changes nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from twinsight.core.errors import BadRequest

SUPPORTED_OPS = ("add", "replace", "remove")


class JsonPatchInvalid(BadRequest):
    code = "JsonPatchInvalid"


def parse_pointer(path: Any, index: int) -> list[str]:
    if not isinstance(path, str) or not path.startswith("/"):
        raise JsonPatchInvalid(
            f"operation {index}: 'path' must be a JSON pointer starting with '/', got {path!r}"
        )
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


@dataclass
class PatchResult:
    """The patched document and which top-level members each operation touched."""

    document: dict[str, Any]
    touched: set[tuple[str, ...]] = field(default_factory=set)
    """Property addresses written: ``(prop,)`` or ``(component, prop)``."""
    removed: set[tuple[str, ...]] = field(default_factory=set)
    source_times: dict[tuple[str, ...], Any] = field(default_factory=dict)


def _check_ops(ops: Any) -> Sequence[Mapping[str, Any]]:
    if not isinstance(ops, list):
        raise JsonPatchInvalid("a JSON Patch must be a JSON array of operations")
    if not ops:
        raise JsonPatchInvalid("the JSON Patch holds no operations")
    for i, op in enumerate(ops):
        if not isinstance(op, Mapping):
            raise JsonPatchInvalid(f"operation {i} must be a JSON object, got {op!r}")
        if op.get("op") not in SUPPORTED_OPS:
            raise JsonPatchInvalid(
                f"operation {i}: 'op' must be one of {', '.join(SUPPORTED_OPS)}, "
                f"got {op.get('op')!r}"
            )
        if op["op"] != "remove" and "value" not in op:
            raise JsonPatchInvalid(f"operation {i} ({op['op']}) needs a 'value'")
    return ops


def apply_patch(
    document: Mapping[str, Any], ops: Any, components: frozenset[str] = frozenset()
) -> PatchResult:
    """Apply ``ops`` to a copy of ``document``, leaving ``document`` untouched.

    Copy-on-write: only the containers on the path to each change are copied (once), the
    rest is shared with the original. Documents are immutable values that readers hold
    without locks, so they must never be mutated, and a full deep copy of a large twin
    was most of the cost of a patch.

    ``components`` names the document's components so that ``/comp/prop`` is recorded as a
    write of the component's property (for its ``$metadata``).
    """
    checked = _check_ops(ops)
    doc = dict(document)
    fresh = {id(doc)}
    result = PatchResult(doc)
    for i, op in enumerate(checked):
        parts = parse_pointer(op.get("path"), i)
        if parts[0] == "$metadata" or (len(parts) > 1 and parts[1] == "$metadata"):
            _metadata_op(result, parts, op, i, components)
            continue
        if parts[0].startswith("$"):
            raise JsonPatchInvalid(f"operation {i}: {op['path']!r} is read-only")
        address = tuple(parts[:2]) if parts[0] in components and len(parts) > 1 else (parts[0],)
        _apply_one(doc, parts, op, i, fresh)
        if op["op"] == "remove" and len(parts) == len(address):
            result.removed.add(address)
            result.touched.discard(address)
        else:
            result.touched.add(address)
            result.removed.discard(address)
    return result


def _metadata_op(
    result: PatchResult, parts: list[str], op: Mapping[str, Any], i: int, components: frozenset[str]
) -> None:
    # /$metadata/<prop>/sourceTime  or  /<component>/$metadata/<prop>/sourceTime
    rest = parts[1:] if parts[0] == "$metadata" else parts[2:]
    prefix: tuple[str, ...] = () if parts[0] == "$metadata" else (parts[0],)
    if prefix and prefix[0] not in components:
        raise JsonPatchInvalid(f"operation {i}: {parts[0]!r} is not a component")
    if len(rest) != 2 or rest[1] != "sourceTime" or op["op"] == "remove":
        raise JsonPatchInvalid(
            f"operation {i}: only add/replace of /$metadata/<property>/sourceTime can be "
            f"patched, not {op['path']!r}"
        )
    result.source_times[(*prefix, rest[0])] = op["value"]


def _apply_one(
    doc: dict[str, Any], parts: list[str], op: Mapping[str, Any], i: int, fresh: set[int]
) -> None:
    parent: Any = doc
    for depth, part in enumerate(parts[:-1]):
        nxt = _child(parent, part)
        if nxt is None:
            where = "/" + "/".join(parts[: depth + 1])
            raise JsonPatchInvalid(
                f"operation {i}: {where} does not exist, so {op['path']} "
                "cannot be reached; add the enclosing value first"
            )
        if id(nxt) not in fresh and isinstance(nxt, dict | list):
            nxt = dict(nxt) if isinstance(nxt, dict) else list(nxt)
            fresh.add(id(nxt))
            parent[int(part) if isinstance(parent, list) else part] = nxt
        parent = nxt
    last = parts[-1]
    kind = op["op"]
    if isinstance(parent, dict):
        if kind in ("replace", "remove") and last not in parent:
            raise JsonPatchInvalid(
                f"operation {i}: cannot {kind} {op['path']}: it has no value; use 'add'"
            )
        if kind == "remove":
            del parent[last]
        else:
            parent[last] = _own(op["value"])
    elif isinstance(parent, list):
        index = _list_index(parent, last, kind == "add", i, op)
        if kind == "remove":
            del parent[index]
        elif kind == "replace":
            parent[index] = _own(op["value"])
        else:
            parent.insert(index, _own(op["value"]))
    else:
        raise JsonPatchInvalid(f"operation {i}: {op['path']} points inside a non-container value")


def _own(value: Any) -> Any:
    """The patch's value, copied when it is a container the caller could still change."""
    return copy.deepcopy(value) if isinstance(value, dict | list) else value


def _child(parent: Any, part: str) -> Any:
    if isinstance(parent, dict):
        return parent.get(part)
    if isinstance(parent, list) and part.isdigit() and int(part) < len(parent):
        return parent[int(part)]
    return None


def _list_index(items: list[Any], part: str, adding: bool, i: int, op: Mapping[str, Any]) -> int:
    if adding and part == "-":
        return len(items)
    limit = len(items) + (1 if adding else 0)
    if not part.isdigit() or int(part) >= limit:
        raise JsonPatchInvalid(f"operation {i}: {op['path']}: no array index {part!r}")
    return int(part)
