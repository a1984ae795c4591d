"""Whole-model checks: duplicate ids, references, ``extends`` and schema depth limits.

These need every element of every document (and the already-known models), so they run
after the walker has seen all documents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from twinsight.models.dtdl.metamodel import LANGUAGES
from twinsight.models.dtdl.walker import Builtin, Node, Ref, Walk

KnownClass = Callable[[str], str | None]
"""Class name (``"Interface"``, ``"Object"``, ...) of an element in the known models."""


@dataclass
class Resolution:
    """What the resolver found: nodes by id and the DTMIs nothing defines."""

    by_id: dict[str, Node] = field(default_factory=dict)
    unresolved: list[str] = field(default_factory=list)


def resolve(walk: Walk, known_class: KnownClass) -> Resolution:
    """Run every cross-element check, appending errors to ``walk.errors``."""
    res = Resolution()
    for node in walk.nodes:
        previous = res.by_id.get(node.id)
        if previous is not None or (node.explicit and known_class(node.id) is not None):
            walk.error(
                node.doc,
                node.pointer + "/@id",
                "DuplicateId",
                f"@id {node.id!r} is defined more than once",
                "Give each element its own @id.",
                node.id,
            )
            continue
        res.by_id[node.id] = node
    _references(walk, res, known_class)
    _extends(walk, res, known_class)
    _schemas(walk, res)
    return res


def _refs(node: Node) -> Iterator[tuple[str, Ref]]:
    for term, values in node.values.items():
        for value in values:
            if isinstance(value, Ref):
                yield term, value


def _references(walk: Walk, res: Resolution, known_class: KnownClass) -> None:
    missing: dict[str, tuple[Node, Ref]] = {}
    for node in walk.nodes:
        lang = LANGUAGES[node.version]
        props = lang.all_props(node.cls)
        for term, ref in _refs(node):
            target = res.by_id.get(ref.target)
            cls = target.cls if target is not None else known_class(ref.target)
            if cls is None:
                missing.setdefault(ref.target, (node, ref))
                continue
            if not _referenceable(target, cls, node):
                walk.error(
                    node.doc,
                    ref.pointer,
                    "NotReferenceable",
                    f"{ref.target!r} is a {cls} defined inside another Interface; only "
                    "Interfaces, top-level elements and elements of the same Interface can "
                    "be referenced",
                    f"Define the {cls} in this Interface (e.g. under 'schemas'), or inline it.",
                    node.near_id(),
                )
                continue
            prop = props.get(term)
            expected = prop.range if prop is not None else ()
            if (
                prop is not None
                and target is not None
                and target.version != node.version
                and target.version not in prop.other_versions
            ):
                walk.error(
                    node.doc,
                    ref.pointer,
                    "WrongReferenceVersion",
                    f"{ref.target!r} is a DTDL v{target.version} {cls}, but {term!r} of a "
                    f"DTDL v{node.version} element needs a DTDL v{node.version} one",
                    f"Refer to a DTDL v{node.version} {expected[0] if expected else cls}.",
                    node.near_id(),
                )
                continue
            target_lang = LANGUAGES[target.version] if target is not None else lang
            if expected and not any(target_lang.is_a(cls, e) for e in expected):
                walk.error(
                    node.doc,
                    ref.pointer,
                    "WrongReferenceType",
                    f"{ref.target!r} is a {cls}, but {term!r} needs a {expected[0]}",
                    f"Refer to a {expected[0]}.",
                    node.near_id(),
                )
        target_value = node.one("target")
        if isinstance(target_value, str) and node.cls == "Relationship":
            target = res.by_id.get(target_value)
            cls = target.cls if target is not None else known_class(target_value)
            if cls is not None and cls != "Interface":
                walk.error(
                    node.doc,
                    node.pointer + "/target",
                    "WrongReferenceType",
                    f"target {target_value!r} is a {cls}, not an Interface",
                    "Target an Interface.",
                    node.near_id(),
                )
    res.unresolved = list(missing)
    for dtmi, (owner, ref) in missing.items():
        walk.error(
            owner.doc,
            ref.pointer,
            "UnresolvedReference",
            f"{dtmi!r} is referenced but not defined",
            "Include the document that defines it.",
            owner.near_id(),
        )


def _partition(node: Node) -> Node:
    """The partition root of ``node``: its nearest Interface or top-level ancestor-or-self."""
    current = node
    while current.parent is not None and current.cls != "Interface":
        current = current.parent
    return current


def _referenceable(target: Node | None, cls: str, by: Node) -> bool:
    """Whether an element may be referenced from ``by`` (spec: partitions).

    Interfaces and top-level elements can be referenced from anywhere; any other element
    only from within its own partition. An already-known element that is not an Interface
    lies in another (earlier parsed) partition.
    """
    if cls == "Interface":
        return True
    if target is None:
        return False
    return target.parent is None or _partition(target) is _partition(by)


def _extends(walk: Walk, res: Resolution, known_class: KnownClass) -> None:
    interfaces = [n for n in walk.nodes if n.cls == "Interface" and res.by_id.get(n.id) is n]

    def bases(node: Node) -> list[Node]:
        out = []
        for value in node.values.get("extends", []):
            if isinstance(value, Node):
                out.append(value)
            elif isinstance(value, Ref) and value.target in res.by_id:
                out.append(res.by_id[value.target])
        return out

    for node in interfaces:
        lang = LANGUAGES[node.version]
        # depth, cycles and total count, by breadth-first search over known nodes
        seen: set[str] = set()
        frontier = [(b, 1) for b in bases(node)]
        depth = 0
        cyclic = False
        while frontier:
            base, level = frontier.pop()
            if base is node:
                cyclic = True
                break
            depth = max(depth, level)
            if base.id in seen:
                continue
            seen.add(base.id)
            frontier.extend((b, level + 1) for b in bases(base))
        if cyclic:
            walk.error(
                node.doc,
                node.pointer + "/extends",
                "ExtendsCycle",
                f"{node.id!r} extends itself (directly or through its bases)",
                "Remove the cycle.",
                node.id,
            )
            continue
        if depth > lang.extends_depth_max:
            walk.error(
                node.doc,
                node.pointer + "/extends",
                "ExtendsTooDeep",
                f"the extends hierarchy is {depth} levels deep; at most "
                f"{lang.extends_depth_max} are allowed",
                "Flatten the hierarchy.",
                node.id,
            )
        if lang.extends_total_max is not None and len(seen) > lang.extends_total_max:
            walk.error(
                node.doc,
                node.pointer + "/extends",
                "ExtendsTooMany",
                f"the extends hierarchy has {len(seen)} interfaces; at most "
                f"{lang.extends_total_max} are allowed",
                "Simplify the hierarchy.",
                node.id,
            )
        # contents names unique across the hierarchy
        names: dict[str, Node] = {}
        for owner in [node, *(res.by_id[i] for i in sorted(seen))]:
            for content in owner.values.get("contents", []):
                if not isinstance(content, Node):
                    continue
                name = content.one("name")
                if not isinstance(name, str):
                    continue
                other = names.get(name)
                if other is not None and other is not content:
                    if owner is node and other.parent is node:
                        continue  # reported by the walker's uniqueness check
                    walk.error(
                        node.doc,
                        node.pointer,
                        "DuplicateName",
                        f"content name {name!r} is declared more than once in the hierarchy "
                        f"of {node.id!r}",
                        "Rename one of them.",
                        node.id,
                    )
                names.setdefault(name, content)
    for node in walk.nodes:
        if node.cls != "Component" or res.by_id.get(node.id) is not node:
            continue
        schema = node.one("schema")
        target = (
            schema
            if isinstance(schema, Node)
            else (res.by_id.get(schema.target) if isinstance(schema, Ref) else None)
        )
        if target is not None and _has_component(target, res, set()):
            walk.error(
                node.doc,
                node.pointer + "/schema",
                "NestedComponent",
                "the schema of a Component may not itself contain Components",
                "Flatten the component hierarchy.",
                node.near_id(),
            )


def _has_component(interface: Node, res: Resolution, seen: set[str]) -> bool:
    if interface.id in seen:
        return False
    seen.add(interface.id)
    for content in interface.values.get("contents", []):
        if isinstance(content, Node) and content.cls == "Component":
            return True
    for value in interface.values.get("extends", []):
        base = (
            value
            if isinstance(value, Node)
            else (res.by_id.get(value.target) if isinstance(value, Ref) else None)
        )
        if base is not None and _has_component(base, res, seen):
            return True
    return False


def _schema_children(node: Node, res: Resolution) -> Iterator[Node]:
    for term in ("elementSchema", "schema", "fields", "mapValue"):
        for value in node.values.get(term, []):
            if isinstance(value, Node):
                yield value
            elif isinstance(value, Ref) and value.target in res.by_id:
                yield res.by_id[value.target]


_COMPLEX = ("Array", "Enum", "Map", "Object")


def _schemas(walk: Walk, res: Resolution) -> None:
    depth_memo: dict[str, int] = {}

    def depth(node: Node, path: tuple[str, ...]) -> int:
        if node.id in path:
            raise _CycleError(node)
        if node.id in depth_memo:
            return depth_memo[node.id]
        best = 0
        for child in _schema_children(node, res):
            best = max(best, depth(child, (*path, node.id)))
        result = best + (1 if node.cls in _COMPLEX else 0)
        depth_memo[node.id] = result
        return result

    for node in walk.nodes:
        if res.by_id.get(node.id) is not node:
            continue
        lang = LANGUAGES[node.version]
        if node.cls in _COMPLEX and (
            node.parent is None or node.parent.cls not in (*_COMPLEX, "Field", "MapValue")
        ):
            try:
                found = depth(node, ())
            except _CycleError:
                walk.error(
                    node.doc,
                    node.pointer,
                    "SchemaCycle",
                    f"schema {node.id!r} contains itself",
                    "Remove the self reference.",
                    node.near_id(),
                )
                continue
            if found > lang.schema_depth_max:
                walk.error(
                    node.doc,
                    node.pointer,
                    "SchemaTooDeep",
                    f"complex schemas are nested {found} levels deep; at most "
                    f"{lang.schema_depth_max} are allowed",
                    "Flatten the schema.",
                    node.near_id(),
                )
        if lang.property_excludes_array and node.cls == "Property":
            schema = node.one("schema")
            target = (
                schema
                if isinstance(schema, Node)
                else (res.by_id.get(schema.target) if isinstance(schema, Ref) else None)
            )
            if target is not None and target.cls == "Array":
                walk.error(
                    node.doc,
                    node.pointer + "/schema",
                    "PropertyArray",
                    "in DTDL v2 a Property's schema may not be an Array",
                    "Use an Object or Map, or move to DTDL v3.",
                    node.near_id(),
                )
        if node.cls == "Enum":
            value_schema = node.one("valueSchema")
            want = value_schema.term if isinstance(value_schema, Builtin) else None
            for item in node.values.get("enumValues", []):
                if not isinstance(item, Node):
                    continue
                value = item.one("enumValue")
                ok = (want == "integer" and isinstance(value, int)) or (
                    want == "string" and isinstance(value, str)
                )
                if value is not None and want is not None and not ok:
                    walk.error(
                        item.doc,
                        item.pointer + "/enumValue",
                        "EnumValueType",
                        f"enumValue {value!r} is not a {want}",
                        f"Use {want} values, matching valueSchema.",
                        item.near_id(),
                    )


class _CycleError(Exception):
    def __init__(self, node: Node) -> None:
        super().__init__(node.id)
        self.node = node
