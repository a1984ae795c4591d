"""The generic walker: turns JSON values into parser nodes, checking them against the tables.

Every check that can be made while looking at one element is made here (context, ``@id``,
``@type``, each property's kind, cardinality and limits, undefined extensions). Checks that
need the whole model set (references, ``extends``, depth limits) live in ``resolve.py``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from twinsight.models.diagnostics import DtdlError
from twinsight.models.dtdl import dtmi as dtmis
from twinsight.models.dtdl.metamodel import (
    ADJUNCTS,
    DTDL_CONTEXTS,
    ELEMENT_FORBIDDEN_KEYWORDS,
    EXTENSION_CONTEXTS,
    GEOSPATIAL,
    LANGUAGE_TAG,
    LANGUAGES,
    NUMERIC,
    PRIMITIVE_CLASS,
    QUANTITATIVE_TYPES,
    VALUE_OBJECT_FORBIDDEN,
    XSD_PREFIXES,
    XSD_TYPES,
    Language,
    Prop,
)

_LANG_TAG = re.compile(LANGUAGE_TAG + r"\Z")
_CLASS_DTMI = re.compile(r"dtmi:dtdl:class:([A-Za-z]+);([23])\Z")
_PROP_DTMI = re.compile(r"dtmi:dtdl:property:([A-Za-z]+);([23])\Z")
_INSTANCE_DTMI = re.compile(
    r"(?:dtmi:dtdl:instance:Schema:|dtmi:standard:schema:geospatial:)([A-Za-z]+);([23])\Z"
)
_COMMAND_TYPE_DTMI = re.compile(r"dtmi:dtdl:instance:CommandType:([A-Za-z]+);([23])\Z")
_UNIT_PROP = Prop("unit")
_UNIT_REQUIRED = Prop("unit", required=True)
_SEMANTIC_DTMI = re.compile(r"dtmi:standard:class:([A-Za-z]+);2\Z")
_UNIT_DTMI = re.compile(r"dtmi:standard:unit:([A-Za-z]+);2\Z")
MAX_NESTING = 64


@dataclass(frozen=True, slots=True)
class Scope:
    """The active context: language version and which extensions are in force."""

    version: int
    extensions: frozenset[str] = frozenset()
    undefined: bool = False
    """An undefined extension context is in scope (and undefined extensions are allowed)."""

    @property
    def lang(self) -> Language:
        return LANGUAGES[self.version]


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference by DTMI from a property value to another element."""

    target: str
    pointer: str


@dataclass(frozen=True, slots=True)
class Builtin:
    """A built-in instance named by a term, e.g. the primitive schema ``double``."""

    term: str


@dataclass(eq=False)
class Node:
    """One element found in a document, before the public types are built."""

    id: str
    explicit: bool
    cls: str
    version: int
    doc: str
    pointer: str
    parent: Node | None
    cotypes: list[str] = field(default_factory=list)
    semantic: list[str] = field(default_factory=list)
    values: dict[str, list[Node | Ref | Builtin | Any]] = field(default_factory=dict)
    source: Any = None
    undefined_cotype: bool = False

    def one(self, prop: str) -> Any:
        found = self.values.get(prop)
        return found[0] if found else None

    def near_id(self) -> str:
        node: Node | None = self
        while node is not None:
            if node.explicit:
                return node.id
            node = node.parent
        return self.id


@dataclass
class Walk:
    """State of one walk over a set of documents."""

    allow_undefined: bool
    errors: list[DtdlError] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    top: list[Node] = field(default_factory=list)

    def error(
        self,
        doc: str,
        pointer: str,
        rule: str,
        message: str,
        fix: str = "",
        element: str | None = None,
    ) -> None:
        self.errors.append(DtdlError(doc, pointer, rule, message, fix, element))

    # -- documents -------------------------------------------------------------------

    def document(self, name: str, content: Any) -> None:
        if isinstance(content, dict):
            self.top_level(name, content, "")
        elif isinstance(content, list):
            if not content:
                self.error(name, "", "EmptyDocument", "the document is an empty array")
            for index, item in enumerate(content):
                if isinstance(item, dict):
                    self.top_level(name, item, f"/{index}")
                else:
                    self.error(
                        name,
                        f"/{index}",
                        "NotAnInterface",
                        "each item of a document array must be a JSON object (an Interface)",
                        "Remove the item or make it an Interface object.",
                    )
        else:
            self.error(
                name,
                "",
                "NotAnInterface",
                f"a DTDL document must be a JSON object or array, not {_kind(content)}",
                "Provide an Interface object or an array of them.",
            )

    def top_level(self, doc: str, obj: dict[str, Any], pointer: str) -> None:
        if "@context" not in obj:
            self.error(
                doc,
                pointer,
                "MissingContext",
                "a top-level element must have an @context",
                'Add "@context": "dtmi:dtdl:context;3" (or ;2).',
                _id_hint(obj),
            )
            return
        scope = self.context(obj["@context"], None, doc, pointer + "/@context", _id_hint(obj))
        if scope is None:
            return
        node = self.element(obj, scope, ("Interface",), None, None, "", doc, pointer, 0)
        if node is not None:
            node.source = obj
            self.top.append(node)
            self.check_size(node, obj, scope.lang)

    def check_size(self, node: Node, obj: dict[str, Any], lang: Language) -> None:
        """The text-size limit of an Interface, measured on its most compact JSON text.

        Only the decoded value is available, so the compact serialization stands in for the
        text: a lower bound, so nothing within the limit is rejected.
        """
        limit = lang.interface_max_bytes
        if limit is None:
            return
        try:
            text = json.dumps(obj, separators=(",", ":"))
        except (TypeError, ValueError, RecursionError):
            return  # not JSON-serializable junk: other checks report it
        if len(text) <= limit:  # \uXXXX escapes: never shorter than the UTF-8 bytes
            return
        size = len(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode())
        if size > limit:
            self.error(
                node.doc,
                node.pointer,
                "InterfaceTooLarge",
                f"the Interface is at least {size} bytes of JSON; at most {limit} are allowed",
                "Split it: move contents into base Interfaces (extends) or Components.",
                node.id,
            )

    # -- @context ----------------------------------------------------------------------

    def context(
        self, value: Any, outer: Scope | None, doc: str, pointer: str, element: str | None
    ) -> Scope | None:
        items = value if isinstance(value, list) else [value]
        version = outer.version if outer else None
        extensions = set(outer.extensions) if outer else set()
        undefined = outer.undefined if outer else False
        dtdl_at = [
            i for i, item in enumerate(items) if isinstance(item, str) and item in DTDL_CONTEXTS
        ]
        if dtdl_at:
            # JSON-LD: a later context overrides an earlier one, so the last DTDL context
            # decides the version (repeating it is allowed, though not recommended).
            last = DTDL_CONTEXTS[items[dtdl_at[-1]]]
            if last != version:
                # A nested element may switch language version; the outer version's
                # extensions do not carry over into the other language.
                extensions.clear()
            version = last
        first_dtdl = dtdl_at[0] if dtdl_at else None
        ok = True
        for index, item in enumerate(items):
            where = f"{pointer}/{index}" if isinstance(value, list) else pointer
            if not isinstance(item, str):
                self.error(
                    doc,
                    where,
                    "InvalidContext",
                    f"a context must be a string, not {_kind(item)}",
                    'Use context identifiers such as "dtmi:dtdl:context;3".',
                    element,
                )
                ok = False
                continue
            if item in DTDL_CONTEXTS:
                continue
            if index == 0 and outer is None and first_dtdl is None:
                self.error(
                    doc,
                    where,
                    "MissingDtdlContext",
                    f"the first context of a top-level element must be the DTDL context, "
                    f"not {item!r}",
                    'Start @context with "dtmi:dtdl:context;3" (or ;2).',
                    element,
                )
                return None
            if (
                first_dtdl is not None
                and index < first_dtdl
                and version is not None
                and item not in LANGUAGES[version].contexts_before_dtdl
            ):
                self.error(
                    doc,
                    where,
                    "ContextOrder",
                    f"the DTDL context must come before {item!r} in the @context list",
                    "Move the DTDL context to the front.",
                    element,
                )
                ok = False
                continue
            if item.startswith("dtmi:dtdl:context;"):
                self.error(
                    doc,
                    where,
                    "UnsupportedDtdlVersion",
                    f"{item!r} is not a supported DTDL version",
                    "Use dtmi:dtdl:context;2 or dtmi:dtdl:context;3.",
                    element,
                )
                ok = False
                continue
            if item in EXTENSION_CONTEXTS and version == 3:
                extensions.add(item)
                continue
            if item.startswith("dtmi:iotcentral:context;") and version == 2:
                extensions.add(item)
                continue
            if dtmis.is_dtmi(item) and not item.startswith("dtmi:dtdl:"):
                if not dtmis.has_version(item):
                    self.error(
                        doc,
                        where,
                        "InvalidContext",
                        f"the context {item!r} has no version",
                        f'Give the version, e.g. "{item};1".',
                        element,
                    )
                    ok = False
                    continue
                if self.allow_undefined:
                    undefined = True
                    continue
                self.error(
                    doc,
                    where,
                    "UndefinedExtension",
                    f"the context {item!r} is not a known DTDL extension",
                    "Remove it, or parse with undefined extensions allowed.",
                    element,
                )
                ok = False
                continue
            self.error(
                doc,
                where,
                "InvalidContext",
                f"{item!r} is not a valid context specifier",
                "Use a DTDL context or a known extension context.",
                element,
            )
            ok = False
        if version is None:
            if outer is None:
                self.error(
                    doc,
                    pointer,
                    "MissingDtdlContext",
                    "no DTDL context given",
                    'Add "dtmi:dtdl:context;3".',
                    element,
                )
            return None
        if not ok:
            return None
        return Scope(version, frozenset(extensions), undefined)

    # -- elements --------------------------------------------------------------------------

    def element(
        self,
        obj: dict[str, Any],
        scope: Scope,
        expected: tuple[str, ...],
        via: Prop | None,
        parent: Node | None,
        prop_name: str,
        doc: str,
        pointer: str,
        depth: int,
    ) -> Node | None:
        hint = _id_hint(obj) or (parent.near_id() if parent else None)
        if depth > MAX_NESTING:
            self.error(doc, pointer, "TooDeep", "elements are nested too deeply", "", hint)
            return None
        if "@context" in obj and parent is not None:
            inner = self.context(obj["@context"], scope, doc, pointer + "/@context", hint)
            if inner is None:
                return None
            if inner.version != scope.version and (
                via is None or inner.version not in via.other_versions
            ):
                self.error(
                    doc,
                    pointer + "/@context",
                    "ContextVersionChange",
                    f"{prop_name!r} of a DTDL v{scope.version} element cannot hold a "
                    f"DTDL v{inner.version} element",
                    "Remove the inner DTDL context, or write the element in "
                    f"DTDL v{scope.version}.",
                    hint,
                )
                return None
            scope = inner
        lang = scope.lang
        # @type
        material, cotypes, semantic, undefined_cotype = self.types(obj, scope, doc, pointer, hint)
        if material is None:
            if "@type" in obj:
                if not self._type_error_reported:
                    self.error(
                        doc,
                        pointer + "/@type",
                        "MissingType",
                        f"@type names no DTDL class (expected {' or '.join(expected)})",
                        f'Set "@type" to {expected[0]!r}.',
                        hint,
                    )
                self._type_error_reported = False
                return None
            if via is not None and via.infer:
                material = via.infer
            else:
                self.error(
                    doc,
                    pointer,
                    "MissingType",
                    f"the element has no @type (expected {' or '.join(expected)})",
                    f'Add "@type": {expected[0]!r}.',
                    hint,
                )
                return None
        if not any(lang.is_a(material, e) for e in expected):
            self.error(
                doc,
                pointer + "/@type",
                "WrongType",
                f"a {material} is not allowed here (expected {' or '.join(expected)})",
                f"Use a {expected[0]} here.",
                hint,
            )
            return None
        if lang.classes[material].abstract:
            self.error(
                doc,
                pointer + "/@type",
                "AbstractType",
                f"{material} is abstract",
                "Use one of its concrete subclasses.",
                hint,
            )
            return None
        # @id
        name_value = obj.get("name")
        if "@id" in obj:
            raw = obj["@id"]
            if not isinstance(raw, str):
                self.error(
                    doc,
                    pointer + "/@id",
                    "InvalidId",
                    f"@id must be a string, not {_kind(raw)}",
                    "Give a single DTMI string.",
                    hint,
                )
                return None
            problem = dtmis.check(raw, scope.version, interface=material == "Interface")
            if problem:
                self.error(
                    doc,
                    pointer + "/@id",
                    "InvalidId",
                    f"@id {raw!r} is {problem}",
                    "Use a DTMI such as dtmi:com:example:Thing;1.",
                    hint,
                )
                return None
            node_id, explicit = raw, True
        else:
            if via is not None and via.needs_id:
                self.error(
                    doc,
                    pointer,
                    "MissingId",
                    f"a {material} declared under this property must have an @id",
                    "Add an @id so it can be referenced.",
                    hint,
                )
                return None
            if parent is None or material == "Interface":
                self.error(
                    doc,
                    pointer,
                    "MissingId",
                    "an Interface must have an @id",
                    'Add "@id": "dtmi:com:example:MyInterface;1".',
                    hint,
                )
                return None
            name = (
                name_value
                if via is not None and via.plural and isinstance(name_value, str)
                else None
            )
            node_id, explicit = dtmis.child_id(parent.id, prop_name, name), False
        node = Node(node_id, explicit, material, scope.version, doc, pointer, parent)
        node.cotypes = cotypes
        node.semantic = semantic
        node.undefined_cotype = undefined_cotype
        self.nodes.append(node)
        self.properties(node, obj, scope, depth)
        return node

    _type_error_reported: bool = False

    def types(
        self, obj: dict[str, Any], scope: Scope, doc: str, pointer: str, hint: str | None
    ) -> tuple[str | None, list[str], list[str], bool]:
        lang = scope.lang
        raw = obj.get("@type")
        if raw is None and "@type" not in obj:
            return None, [], [], False
        items = raw if isinstance(raw, list) else [raw]
        where = pointer + "/@type"
        material: str | None = None
        cotypes: list[str] = []
        semantic: list[str] = []
        undefined = False
        bad = False
        if not items:
            bad = True
            self.error(
                doc,
                where,
                "InvalidType",
                "@type must not be empty",
                'Name the element\'s DTDL class, e.g. "Property".',
                hint,
            )
        for item in items:
            if not isinstance(item, str):
                self.error(
                    doc,
                    where,
                    "InvalidType",
                    f"@type values must be strings, not {_kind(item)}",
                    "Use class names, co-type terms or DTMIs, each a JSON string.",
                    hint,
                )
                bad = True
                continue
            cls = _class_of(item, lang)
            if cls is not None:
                if material is not None and material != cls:
                    self.error(
                        doc,
                        where,
                        "MultipleTypes",
                        f"@type names two DTDL classes ({material}, {cls})",
                        "Keep only one.",
                        hint,
                    )
                    bad = True
                material = cls
                continue
            adjunct = self.adjunct(item, scope)
            if adjunct == "semantic":
                match = _SEMANTIC_DTMI.match(item)
                name = match.group(1) if match else item
                if name not in semantic:  # a term and its DTMI name the same type
                    semantic.append(name)
                continue
            if adjunct == "cotype":
                cotypes.append(item)
                continue
            kind = _undefined_kind(item, lang)
            if kind == "invalidDtmi" or (scope.version == 3 and kind == "notDtmiNorTerm"):
                self.error(
                    doc,
                    where,
                    "InvalidCotype",
                    f"@type value {item!r} is not a valid term or DTMI",
                    "Remove it.",
                    hint,
                )
                bad = True
                continue
            if scope.undefined or kind in lang.undefined_cotypes:
                undefined = True
                continue
            self.error(
                doc,
                where,
                "UndefinedType",
                f"@type value {item!r} is not defined",
                "Remove it, or import the extension context that defines it.",
                hint,
            )
            bad = True
        if bad:
            self._type_error_reported = True
            return None, [], [], False
        return material, cotypes, semantic, undefined

    def adjunct(self, term: str, scope: Scope) -> str | None:
        lang = scope.lang
        if scope.version == 2 or QUANTITATIVE_TYPES in scope.extensions:
            if term in lang.semantic_types:
                return "semantic"
            match = _SEMANTIC_DTMI.match(term)
            if scope.version == 2 and match and match.group(1) in lang.semantic_types:
                return "semantic"
        for ext in scope.extensions:
            if term in ADJUNCTS.get(ext, {}):
                return "cotype"
        return None

    # -- properties ----------------------------------------------------------------------

    def properties(self, node: Node, obj: dict[str, Any], scope: Scope, depth: int) -> None:
        lang = scope.lang
        props = lang.all_props(node.cls)
        hint = node.near_id()
        extra: dict[str, Prop] = {}
        for cotype in node.cotypes:
            for ext in scope.extensions:
                adj = ADJUNCTS.get(ext, {}).get(cotype)
                if adj is None:
                    continue
                if not any(lang.is_a(node.cls, a) for a in adj.applies_to):
                    self.error(
                        node.doc,
                        node.pointer + "/@type",
                        "CotypeNotApplicable",
                        f"{cotype} cannot be applied to a {node.cls}",
                        "Remove it.",
                        hint,
                    )
                extra.update(adj.props)
        if node.semantic:
            allowed = (
                ("Property", "Telemetry", "Relationship")
                if lang.version == 2
                else ("Property", "Telemetry", "Relationship", "SchemaField")
            )
            if not any(lang.is_a(node.cls, a) for a in allowed):
                self.error(
                    node.doc,
                    node.pointer + "/@type",
                    "CotypeNotApplicable",
                    f"semantic type {node.semantic[0]} cannot be applied to a {node.cls}",
                    "Remove it.",
                    hint,
                )
            if len(node.semantic) > 1:
                self.error(
                    node.doc,
                    node.pointer + "/@type",
                    "MultipleSemanticTypes",
                    "an element may have at most one semantic type",
                    "Keep one.",
                    hint,
                )
            required = any(lang.is_a(node.cls, c) for c in lang.unit_required_for)
            extra["unit"] = _UNIT_REQUIRED if required else _UNIT_PROP
        seen: dict[str, str] = {}
        for key, value in obj.items():
            where = f"{node.pointer}/{_escape(key)}"
            if key.startswith("@"):
                if key in ("@context", "@id", "@type"):
                    continue
                if lang.restrict_keywords or key in ELEMENT_FORBIDDEN_KEYWORDS:
                    self.error(
                        node.doc,
                        where,
                        "InvalidKeyword",
                        f"the JSON-LD keyword {key!r} is not allowed in DTDL",
                        "Remove it.",
                        hint,
                    )
                continue
            term = key
            match = _PROP_DTMI.match(key)
            if match and int(match.group(2)) == lang.version:
                term = match.group(1)
            prop = props.get(term) or extra.get(term)
            if prop is None or (
                term != key and term not in props and term not in lang.dtdl_adjunct_props
            ):
                self.undefined_property(node, key, value, scope, where)
                continue
            if term in seen:
                self.error(
                    node.doc,
                    where,
                    "DuplicateProperty",
                    f"{term!r} is given twice (as {seen[term]!r} and {key!r})",
                    "Keep one.",
                    hint,
                )
                continue
            seen[term] = key
            if prop.forbidden:
                self.error(
                    node.doc,
                    where,
                    "ForbiddenProperty",
                    f"{term!r} may not be set in a model",
                    "Remove it.",
                    hint,
                )
                continue
            self.value(node, term, prop, value, scope, where, depth)
        for term, prop in {**props, **extra}.items():
            if prop.required and term not in seen:
                because = (
                    f" (it has semantic type {node.semantic[0]})"
                    if term == "unit" and node.semantic
                    else ""
                )
                self.error(
                    node.doc,
                    node.pointer,
                    "MissingRequiredProperty",
                    f"a {node.cls} must have {term!r}{because}",
                    f"Add {term!r}.",
                    hint,
                )
        if node.semantic and lang.version == 2 and node.cls in ("Property", "Telemetry"):
            schema = node.one("schema")
            if not (isinstance(schema, Builtin) and schema.term in NUMERIC):
                self.error(
                    node.doc,
                    node.pointer + "/schema",
                    "SemanticTypeSchema",
                    f"semantic type {node.semantic[0]} requires a numeric schema",
                    "Use double, float, integer or long.",
                    hint,
                )

    def undefined_property(
        self, node: Node, key: str, value: Any, scope: Scope, where: str
    ) -> None:
        kind = _undefined_kind(key, scope.lang)
        allowed = node.undefined_cotype and (
            scope.version == 2 or kind not in ("invalidDtmi", "notDtmiNorTerm")
        )
        if allowed:
            return
        self.error(
            node.doc,
            where,
            "UndefinedProperty",
            f"{key!r} is not a property of {node.cls}",
            "Remove it, or check the spelling.",
            node.near_id(),
        )

    def value(
        self,
        node: Node,
        term: str,
        prop: Prop,
        value: Any,
        scope: Scope,
        where: str,
        depth: int,
    ) -> None:
        lang = scope.lang
        hint = node.near_id()
        items = value if isinstance(value, list) else [value]
        if prop.kind != "object":
            if prop.kind == "langstring" and isinstance(value, dict):
                # An object given directly is a language map (the context declares
                # "@container": "@language"), never a value object; its keys are tags.
                if "@value" in value:
                    self.error(
                        node.doc,
                        where,
                        "InvalidValue",
                        f"{term!r} is a language map, so an object here cannot be a "
                        "JSON-LD value object",
                        'Write {"en": "text"}, or wrap the value object in an array: '
                        '[{"@value": "text", "@language": "en"}].',
                        hint,
                    )
                    return
                literals: list[tuple[Any, str | None]] | None = [
                    (text, tag) for tag, text in value.items()
                ]
            else:
                literals = _literals(value, lang, prop.kind == "langstring")
            if literals is None:
                self.error(
                    node.doc,
                    where,
                    "InvalidValue",
                    f"{term!r} has a malformed JSON-LD value",
                    _value_object_fix(lang, prop.kind == "langstring"),
                    hint,
                )
                return
            plain = not isinstance(value, dict) and not (
                isinstance(value, list) and any(isinstance(i, dict) for i in value)
            )
            if not plain and prop.kind in ("iri", "unit"):
                self.error(
                    node.doc,
                    where,
                    "InvalidValue",
                    f"{term!r} must be a plain JSON value",
                    "Remove the JSON-LD value object.",
                    hint,
                )
                return
            if prop.kind == "langstring":
                self.langstring(node, term, literals, lang, where)
                return
            if not literals:
                if prop.required:
                    self.error(
                        node.doc,
                        where,
                        "MissingRequiredProperty",
                        f"{term!r} must not be empty",
                        "Give a value.",
                        hint,
                    )
                return
            if len(literals) != 1:
                self.error(
                    node.doc,
                    where,
                    "NotSingular",
                    f"{term!r} must be a single value",
                    "Give exactly one value.",
                    hint,
                )
                return
            literal = literals[0][0]
            if self.literal(node, term, prop, literal, lang, where):
                node.values[term] = [literal]
            return
        if prop.kind == "object":
            if not prop.plural and len(items) > 1:
                self.error(
                    node.doc,
                    where,
                    "TooManyValues",
                    f"{term!r} takes one value",
                    "Give exactly one.",
                    hint,
                )
                return
            if prop.required and not items:
                self.error(
                    node.doc,
                    where,
                    "MissingRequiredProperty",
                    f"{term!r} must not be empty",
                    "Give a value.",
                    hint,
                )
                return
            if prop.max_count is not None and len(items) > prop.max_count:
                self.error(
                    node.doc,
                    where,
                    "TooManyValues",
                    f"{term!r} has {len(items)} values; at most {prop.max_count} are allowed",
                    "Remove some.",
                    hint,
                )
            out: list[Any] = []
            for index, item in enumerate(items):
                item_where = f"{where}/{index}" if isinstance(value, list) else where
                got = self.object_value(node, term, prop, item, scope, item_where, depth)
                if got is not None:
                    out.append(got)
            node.values[term] = out
            if prop.unique:
                self.check_unique(node, term, prop, out, where)
            return

    def object_value(
        self,
        node: Node,
        term: str,
        prop: Prop,
        item: Any,
        scope: Scope,
        where: str,
        depth: int,
    ) -> Any:
        lang = scope.lang
        hint = node.near_id()
        if isinstance(item, dict):
            if prop.values is not None:
                self.error(
                    node.doc,
                    where,
                    "InvalidValue",
                    f"{term!r} must be one of {', '.join(prop.values)}",
                    f"Use {prop.values[0]!r}.",
                    hint,
                )
                return None
            return self.element(
                item, scope, prop.range, prop, node, term, node.doc, where, depth + 1
            )
        if not isinstance(item, str):
            self.error(
                node.doc,
                where,
                "InvalidValue",
                f"{term!r} must be an element or a DTMI, not {_kind(item)}",
                "Give an object or a DTMI string.",
                hint,
            )
            return None
        builtin = _builtin_term(item, lang)
        if prop.values is not None:
            if builtin in prop.values:
                return Builtin(builtin)
            self.error(
                node.doc,
                where,
                "InvalidValue",
                f"{term!r} must be one of {', '.join(prop.values)}, not {item!r}",
                f"Use {prop.values[0]!r}.",
                hint,
            )
            return None
        if builtin is not None and builtin in lang.primitives:
            if lang.property_excludes_array and node.cls == "Property" and builtin in GEOSPATIAL:
                self.error(
                    node.doc,
                    where,
                    "PropertyArray",
                    f"in DTDL v2 a Property's schema may not be {builtin!r} (an array shape)",
                    "Use DTDL v3, or a Telemetry.",
                    hint,
                )
                return None
            if any(r in ("Schema", "PrimitiveSchema") for r in prop.range):
                return Builtin(builtin)
            self.error(
                node.doc,
                where,
                "WrongType",
                f"{item!r} is a schema, not a {prop.range[0]}",
                f"Refer to a {prop.range[0]}.",
                hint,
            )
            return None
        if dtmis.is_dtmi(item) and not item.startswith("dtmi:dtdl:"):
            if dtmis.check(item, scope.version) is not None and scope.version == 2:
                self.error(
                    node.doc,
                    where,
                    "InvalidReference",
                    f"{item!r} is not a valid DTMI for DTDL v2",
                    "Use a DTMI with a one-part version.",
                    hint,
                )
                return None
            return Ref(item, where)
        self.error(
            node.doc,
            where,
            "InvalidValue",
            f"{item!r} is neither a known term nor a DTMI",
            "Use a built-in schema name or the DTMI of an element.",
            hint,
        )
        return None

    def langstring(
        self,
        node: Node,
        term: str,
        literals: list[tuple[Any, str | None]],
        lang: Language,
        where: str,
    ) -> None:
        hint = node.near_id()
        limit = lang.display_name_max if term == "displayName" else lang.description_max
        out: dict[str, str] = {}
        for text, given_tag in literals:
            tag = given_tag or "en"
            problem = fix = ""
            if not isinstance(text, str):
                problem = f"{term!r} values must be strings, not {_kind(text)}"
                fix = 'Write the text as a JSON string, e.g. {"en": "..."}.'
            elif not _LANG_TAG.match(tag):
                problem = f"{tag!r} is not a language tag"
                fix = 'Use a BCP 47 language tag such as "en", "de" or "zh-Hant".'
            elif tag in out:
                problem = f"{term!r} has more than one value for language {tag!r}"
                fix = "Give one text per language."
            elif len(text) > limit:
                problem = f"{term!r} is longer than {limit} characters"
                fix = "Shorten it."
            if problem:
                self.error(node.doc, where, "InvalidValue", problem, fix, hint)
                return
            out[tag] = text
        node.values[term] = [out]

    def literal(
        self, node: Node, term: str, prop: Prop, value: Any, lang: Language, where: str
    ) -> bool:
        hint = node.near_id()

        kind = prop.kind

        def bad(message: str, fix: str = "") -> bool:
            self.error(
                node.doc, where, "InvalidValue", message, fix or _LITERAL_FIX.get(kind, ""), hint
            )
            return False

        if kind == "string":
            if not isinstance(value, str):
                return bad(f"{term!r} must be a string, not {_kind(value)}")
            limit = prop.max_length
            if term == "name":
                limit = lang.name_max
            elif term == "comment":
                limit = lang.comment_max
            if limit is not None and len(value) > limit:
                return bad(f"{term!r} is longer than {limit} characters", "Shorten it.")
            if prop.pattern and not re.fullmatch(prop.pattern, value):
                return bad(
                    f"{term!r} value {value!r} is not a valid name",
                    "Start with a letter; use letters, digits and underscores; "
                    "do not end with an underscore.",
                )
            return True
        if kind == "boolean":
            if not isinstance(value, bool):
                return bad(f"{term!r} must be true or false, not {_kind(value)}")
            return True
        if kind == "integer":
            if not isinstance(value, int) or isinstance(value, bool):
                return bad(f"{term!r} must be an integer, not {_kind(value)}")
            if prop.minimum is not None and value < prop.minimum:
                return bad(f"{term!r} must be at least {prop.minimum}")
            if prop.maximum is not None and value > prop.maximum:
                return bad(f"{term!r} must be at most {prop.maximum}")
            return True
        if kind == "literal":
            if isinstance(value, bool) or not isinstance(value, int | str):
                return bad(f"{term!r} must be an integer or a string, not {_kind(value)}")
            return True
        if kind == "iri":
            if not isinstance(value, str) or dtmis.check(value, lang.version) is not None:
                return bad(f"{term!r} must be the DTMI of an Interface", "Give a valid DTMI.")
            return True
        if kind == "unit":
            unit_type = lang.semantic_types.get(node.semantic[0]) if node.semantic else None
            allowed = lang.units.get(unit_type or "", ())
            match = _UNIT_DTMI.match(value) if isinstance(value, str) else None
            if match and lang.version == 2:
                value = match.group(1)
            if not isinstance(value, str) or value not in allowed:
                return bad(
                    f"{value!r} is not a unit of {unit_type}",
                    f"Use one of: {', '.join(allowed[:6])}.",
                )
            return True
        return bad(f"unsupported property kind {kind}")

    def check_unique(self, node: Node, term: str, prop: Prop, items: list[Any], where: str) -> None:
        for key in prop.unique:
            seen: set[Any] = set()
            for item in items:
                if not isinstance(item, Node):
                    continue
                value = item.one(key)
                if value is None:
                    continue
                marker = (type(value), value)
                if marker in seen:
                    self.error(
                        node.doc,
                        item.pointer,
                        "DuplicateName",
                        f"{key} {value!r} is used more than once in {term!r}",
                        "Make each one unique.",
                        node.near_id(),
                    )
                seen.add(marker)


_LITERAL_FIX = {
    "string": "Give a JSON string.",
    "boolean": "Use true or false.",
    "integer": "Give a whole number within the allowed range.",
    "literal": "Give an integer or a string, matching the Enum's valueSchema.",
    "iri": "Give the DTMI of an Interface as a string.",
    "unit": "Give a unit of the semantic type's unit type.",
}
"""Fix suggested for a literal value of each property kind that does not fit."""


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _id_hint(obj: dict[str, Any]) -> str | None:
    value = obj.get("@id")
    return value if isinstance(value, str) else None


def _class_of(item: str, lang: Language) -> str | None:
    if item in lang.classes and item not in ("Unit",):
        return item
    match = _CLASS_DTMI.match(item)
    if match and int(match.group(2)) == lang.version and match.group(1) in lang.classes:
        return match.group(1)
    return None


def _builtin_term(item: str, lang: Language) -> str | None:
    if item in lang.primitives or item in lang.command_types:
        return item
    match = _INSTANCE_DTMI.match(item) or _COMMAND_TYPE_DTMI.match(item)
    if match and int(match.group(2)) == lang.version:
        return match.group(1)
    return None


def _undefined_kind(item: str, lang: Language) -> str:
    if item.startswith("dtmi:"):
        return "irrelevantDtmiOrTerm" if dtmis.is_dtmi(item) else "invalidDtmi"
    if ":" in item:
        return "notDtmiNorTerm"
    known = set(lang.primitives) | set(lang.command_types) | set(PRIMITIVE_CLASS.values())
    for cls in lang.classes.values():
        known.update(cls.props)
    if item in known:
        return "irrelevantDtmiOrTerm"
    return "undefinedTerm"


def _literals(value: Any, lang: Language, langstring: bool) -> list[tuple[Any, str | None]] | None:
    """A JSON-LD literal value (plain, value object, or array of them) as (value, language).

    ``None`` if it is malformed: a value object must have ``@value``, only keywords, none of
    ``VALUE_OBJECT_FORBIDDEN``, only the keys the language allows, and a typed one must name
    the XML Schema type of its value (as a string or a one-item array).
    """
    items = value if isinstance(value, list) else [value]
    kind = "langstring" if langstring else "literal"
    allowed = lang.value_object_keys[kind] if lang.value_object_keys is not None else None
    out: list[tuple[Any, str | None]] = []
    for item in items:
        if isinstance(item, list):
            return None
        if not isinstance(item, dict):
            out.append((item, None))
            continue
        if "@value" not in item or not all(
            isinstance(key, str) and key.startswith("@") for key in item
        ):
            return None
        if not VALUE_OBJECT_FORBIDDEN.isdisjoint(item):
            return None
        if allowed is not None and not allowed.issuperset(item):
            return None
        if not langstring and "@type" in item and not _xsd_type_ok(item["@type"], item["@value"]):
            return None
        language = item.get("@language") if langstring else None
        if language is not None and not isinstance(language, str):
            return None
        out.append((item["@value"], language))
    return out


def _xsd_type_ok(given: Any, value: Any) -> bool:
    if isinstance(given, list):
        if len(given) != 1:
            return False
        given = given[0]
    expected = XSD_TYPES.get(type(value))
    return (
        isinstance(given, str)
        and expected is not None
        and any(given == prefix + expected for prefix in XSD_PREFIXES)
    )


def _value_object_fix(lang: Language, langstring: bool) -> str:
    if lang.value_object_keys is None:
        keys = "@value plus optional keywords other than " + ", ".join(
            sorted(VALUE_OBJECT_FORBIDDEN)
        )
    else:
        keys = " and ".join(
            sorted(lang.value_object_keys["langstring" if langstring else "literal"])
        )
    typed = "" if langstring else "; @type must name the value's xsd type"
    return f"Give a plain JSON value, or a value object with only {keys}{typed}."
