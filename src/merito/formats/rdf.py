"""JSON-LD -> canonical N-Quads (RDF Dataset Canonicalization, RDFC-1.0), offline.

``canonize`` is the single entry point used by the eddsa-rdfc-2022 cryptosuite
(vc-di-eddsa §3.3.2 Transformation: RDFC-1.0 over the JSON-LD document's RDF dataset).

Two paths, one answer:

* the fast path turns the subset of JSON-LD that credentials use (bundled context URLs,
  also on embedded credentials; term definitions with ``@id``/``@vocab``/datatype
  coercion; property- and type-scoped contexts; ``@set``, ``@list`` and ``@graph``
  containers; nested node objects) straight into RDF statements, following pyld's
  expansion (JSON-LD 1.1 API §13.2) and RDF conversion (§8.2) step by step, then labels
  blank nodes with RDFC-1.0 first-degree hashes (§4.6) when they tell every blank node
  apart, or with pyld's full RDFC-1.0 (Hash N-Degree Quads) when they do not;
* anything outside that subset (embedded context definitions, language/index maps,
  value objects, ``@json``, ``@reverse``, IRIs pyld would drop, control characters in
  strings...) makes the fast path give up, and pyld does the whole job.

Active contexts are built once by pyld's own context processing and memoised, so scoped
contexts (VC 2.0 and OB 3.0 use them for every type and several properties) cost a dict
lookup after the first document. pyld stays the oracle: the unit tests compare both
paths byte for byte on every fixture and on generated credentials.

Safe mode (VC Data Integrity 1.0 §2.4): a property that no context defines would be dropped
by JSON-LD expansion, so a signature would not cover it; ``canonize`` refuses such documents
with DataLossError on both paths (DATA_LOSS_DETECTION_ERROR). A ``@type`` that stays a
relative IRI is refused too unless ``allow_relative_types`` is set: it is signed (resolved
against pyld's default base) but strict processors refuse it. Verifiers allow it, because
1EdTech's own OB 3.0 examples type credentialSchema ``1EdTechJsonSchemaValidator2019``
without the context that defines it; issuers never produce it.

pyoxigraph's RDFC-1.0 is not used: on datasets with indistinguishable blank nodes
(tests/fixtures/ob3-examples/validator-ob30/complete_v1.json) it labels them differently
from pyld, so its output is not byte-compatible with signatures made by pyld.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections.abc import Hashable
from typing import Any, Final

from pyld import jsonld
from pyld.canon import URDNA2015
from pyld.context_resolver import ContextResolver

from merito.errors import DataLossError, DocumentLoaderError, InvalidCredential, MeritoError
from merito.formats.contexts import bundled_urls, pyld_loader

__all__ = [
    "FAST",
    "MAX_DEPTH",
    "MAX_QUADS",
    "MAX_VALUES",
    "PYLD",
    "canonize",
    "canonize_with_path",
]

#: deepest nesting of JSON objects/arrays accepted (OB 3.0 credentials nest about 8 deep)
MAX_DEPTH: Final = 64
#: most JSON values (objects, arrays, scalars) accepted on the general (pyld) path
MAX_VALUES: Final = 200_000
#: most RDF quads accepted on the fast path
MAX_QUADS: Final = 200_000

FAST: Final = "fast"
PYLD: Final = "pyld"

_XSD = "http://www.w3.org/2001/XMLSchema#"
_XSD_BOOLEAN = _XSD + "boolean"
_XSD_DOUBLE = _XSD + "double"
_XSD_INTEGER = _XSD + "integer"
_XSD_STRING = _XSD + "string"
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_RDF_TYPE = f"<{_RDF}type>"
_RDF_FIRST = f"<{_RDF}first>"
_RDF_REST = f"<{_RDF}rest>"
_RDF_NIL = f"<{_RDF}nil>"
_RDF_LANGSTRING = _RDF + "langString"

# An absolute IRI the fast path may write between <...> without any doubt: pyld's own test
# (scheme ":" no whitespace) narrowed to the N-Quads IRIREF characters.
_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\x00-\x20\s<>\"{}|^`\\\x7f\ud800-\udfff]*\Z")
# Characters the two serializers write differently (pyld raw, pyoxigraph as \uXXXX or \b
# \f), and lone surrogates that cannot be encoded: such strings take the pyld path.
_UNSAFE_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# pyoxigraph lower-cases language tags; pyld keeps a context's tag as written.
_LANGUAGE = re.compile(r"[a-z]{1,8}(?:-[a-z0-9]{1,8})*\Z")
_KEYWORD_LIKE = re.compile(r"@[a-zA-Z]+\Z")

_CONTAINERS_OK: Final = frozenset({"@set", "@graph", "@list"})
# marks "this property's value is an empty @list" until the subject is known
_NIL_OF_EMPTY_LIST: Final = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#nil>#empty-list"
_CACHE_LIMIT: Final = 4096


#: (subject, predicate, object, graph name or None) as N-Quads terms
_Quad = tuple[str, str, str, str | None]


class _BailError(Exception):
    """The document leaves the fast path's subset: let pyld handle it."""


_PROCESSOR = jsonld.JsonLdProcessor()
_OPTIONS: dict[str, Any] = {
    "base": "",
    "documentLoader": pyld_loader,
    "contextResolver": ContextResolver(jsonld._resolved_context_cache, pyld_loader),
    "processingMode": "json-ld-1.1",
    "isFrame": False,
    "keepFreeFloatingNodes": False,
    "extractAllScripts": False,
}
_LOCK = threading.RLock()


# what a key does in a node object, decided once per (active context, key)
_DROP, _ID, _TYPE, _PROPERTY, _UNSUPPORTED = range(5)
# how a scalar value of a term becomes an RDF term
_LITERAL, _AS_ID, _AS_VOCAB = range(3)


class _Term:
    """What the fast path needs to know about one key (or type name) in one active context.

    Everything that depends only on the term definition is decided here, once, so the
    per-document walk is dictionary lookups (JSON-LD 1.1 API §13.2 steps 13.1-13.4, §5.3.2).
    """

    __slots__ = (
        "datatype",
        "in_graph",
        "in_list",
        "iri",
        "kind",
        "language",
        "predicate",
        "scoped",
        "value_kind",
    )

    def __init__(self, raw: dict[str, Any], key: str) -> None:
        get = jsonld.JsonLdProcessor.get_context_value
        iri: str | None = _PROCESSOR._expand_iri(raw, key, vocab=True)
        self.iri = iri
        self.scoped: Any = get(raw, key, "@context")
        container = get(raw, key, "@container")
        containers = frozenset(
            () if container is None else jsonld.JsonLdProcessor.arrayify(container)
        )
        self.in_graph = "@graph" in containers
        self.in_list = "@list" in containers
        type_: Any = get(raw, key, "@type")
        mapping = raw["mappings"].get(key)
        reverse = bool(mapping and mapping.get("reverse"))
        self.predicate = ""
        if iri is None:
            self.kind = _DROP
        elif iri == "@id":
            self.kind = _ID
        elif iri == "@type":
            self.kind = _TYPE
        elif iri[0] == "@":
            self.kind = _UNSUPPORTED  # @graph, @included, @reverse, @nest, @value, ...
        elif not jsonld._is_absolute_iri(iri):
            self.kind = _DROP  # pyld drops keys that expand to neither IRI nor keyword
        elif (
            iri.startswith("_:")
            or not _IRI.match(iri)
            or reverse
            or type_ == "@json"
            or not containers <= _CONTAINERS_OK
            or (self.in_graph and self.in_list)
        ):
            self.kind = _UNSUPPORTED
        else:
            self.kind = _PROPERTY
            self.predicate = f"<{iri}>"
        # value expansion (§5.3.2) and RDF conversion (§8.6) of scalars under this term
        self.language: str | None = None
        self.datatype: str | None = None
        if iri is None or iri[0] == "@" or get(raw, key, "@direction") is not None:
            self.value_kind: int | None = None
        elif type_ == "@id":
            self.value_kind = _AS_ID
        elif type_ == "@vocab":
            self.value_kind = _AS_VOCAB
        else:
            self.value_kind = _LITERAL
            if type_ is not None and type_ != "@none":
                if not isinstance(type_, str) or not _IRI.match(type_) or type_ == _RDF_LANGSTRING:
                    self.value_kind = None
                self.datatype = type_
            language = get(raw, key, "@language")
            if self.datatype is None and language is not None:
                if isinstance(language, str) and _LANGUAGE.match(language):
                    self.language = language
                else:
                    self.value_kind = None


class _Context:
    """A pyld active context plus memo tables (terms, vocabulary IRIs, derived contexts)."""

    __slots__ = ("_derived", "_previous", "_terms", "_types", "_vocab", "raw", "terms")

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self._terms: dict[str, _Term] = {}
        self.terms = self._terms  # read directly on the hot path; misses go through term()
        self._vocab: dict[str, str | None] = {}
        self._types: dict[str, str | None] = {}
        self._derived: dict[Hashable, tuple[Any, _Context]] = {}
        self._previous: _Context | None = None

    @property
    def previous(self) -> _Context | None:
        """The context a type-scoped context reverts to (JSON-LD 1.1 §4.1.8 ``@propagate``)."""
        prior = self.raw.get("previousContext")
        if not prior:
            return None
        if self._previous is None or self._previous.raw is not prior:
            self._previous = _wrap(prior)
        return self._previous

    def term(self, key: str) -> _Term:
        term = self._terms.get(key)
        if term is None:
            if len(self._terms) > _CACHE_LIMIT:
                self._terms.clear()
            term = self._terms[key] = _Term(self.raw, key)
        return term

    def vocab(self, value: str) -> str | None:
        """IRI expansion relative to the vocabulary (types, ``@type: @vocab`` values)."""
        try:
            return self._vocab[value]
        except KeyError:
            pass
        if len(self._vocab) > _CACHE_LIMIT:
            self._vocab.clear()
        iri: str | None = _PROCESSOR._expand_iri(self.raw, value, vocab=True, base="")
        self._vocab[value] = iri
        return iri

    def type_resource(self, name: str) -> str | None:
        """``<IRI>`` of a ``@type`` value (vocabulary-relative), None when unsupported."""
        try:
            return self._types[name]
        except KeyError:
            pass
        if len(self._types) > _CACHE_LIMIT:
            self._types.clear()
        iri = self.vocab(name)
        resource = f"<{iri}>" if iri is not None and _IRI.match(iri) else None
        self._types[name] = resource
        return resource

    def document_iri(self, value: str) -> str | None:
        """IRI expansion relative to the document (``@id`` values); mirrors pyld's _expand_iri."""
        colon = value.find(":")
        if colon > 0 and value[0] != "@":
            prefix = value[:colon]
            if prefix == "_" or value.startswith("//", colon + 1):
                return value
            mapping = self.raw["mappings"].get(prefix)
            if mapping and mapping["_prefix"]:
                return str(mapping["@id"]) + value[colon + 1 :]
            if _IRI.match(value):
                return value
        iri: str | None = _PROCESSOR._expand_iri(self.raw, value, base="")
        return iri

    def derive(self, scoped: Any, *, propagate: bool, override_protected: bool) -> _Context:
        """The active context after a scoped context (JSON-LD 1.1 API §4.1 Context Processing)."""
        key: Hashable = (id(scoped), propagate, override_protected)
        hit = self._derived.get(key)
        if hit is not None and hit[0] is scoped:
            return hit[1]
        return self._process(
            key, scoped, propagate=propagate, override_protected=override_protected
        )

    def embed(self, urls: tuple[str, ...]) -> _Context:
        """The active context after an embedded ``@context`` of bundled URLs (§13.2 step 9)."""
        hit = self._derived.get(urls)
        if hit is not None:
            return hit[1]
        _check_bundled(urls)
        local: Any = urls[0] if len(urls) == 1 else list(urls)
        return self._process(urls, local, propagate=True, override_protected=False)

    def _process(
        self, key: Hashable, scoped: Any, *, propagate: bool, override_protected: bool
    ) -> _Context:
        with _LOCK:
            raw = _PROCESSOR._process_context(
                self.raw,
                scoped,
                _OPTIONS,
                override_protected=override_protected,
                propagate=propagate,
            )
            child = _wrap(raw)
            # keep ``scoped`` alive so its id() stays unique while cached
            self._derived[key] = (scoped, child)
        return child


_WRAPPED: dict[int, tuple[dict[str, Any], _Context]] = {}
_ROOTS: dict[tuple[str, ...], _Context] = {}


def _wrap(raw: dict[str, Any]) -> _Context:
    hit = _WRAPPED.get(id(raw))
    if hit is not None and hit[0] is raw:
        return hit[1]
    with _LOCK:
        ctx = _Context(raw)
        _WRAPPED[id(raw)] = (raw, ctx)
    return ctx


def _check_bundled(urls: tuple[str, ...]) -> None:
    known = bundled_urls()
    for url in urls:
        if url not in known:
            raise DocumentLoaderError(
                f"JSON-LD context {url!r} is not bundled with Merito; remote contexts are "
                "never fetched",
                property="@context",
            )


def _context_urls(local: Any) -> tuple[str, ...]:
    """The URLs of a ``@context`` made of bundled-context URLs only; anything else bails."""
    if isinstance(local, str):
        return (local,)
    if isinstance(local, list) and local and all(isinstance(url, str) for url in local):
        return tuple(local)
    raise _BailError  # embedded definitions, null: pyld handles them


def _root_context(urls: tuple[str, ...]) -> _Context:
    ctx = _ROOTS.get(urls)
    if ctx is not None:
        return ctx
    _check_bundled(urls)
    with _LOCK:
        if len(_ROOTS) > 256:
            _ROOTS.clear()
            _WRAPPED.clear()
        initial = _PROCESSOR._get_initial_context(_OPTIONS)
        local: Any = urls[0] if len(urls) == 1 else list(urls)
        ctx = _wrap(_PROCESSOR._process_context(initial, local, _OPTIONS))
        _ROOTS[urls] = ctx
    return ctx


def _escape(value: str) -> str:
    # pyld.nquads.escape; pyoxigraph writes the same for every character _UNSAFE_TEXT lets by
    return (
        value.replace("\\", "\\\\")
        .replace("\t", "\\t")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace('"', '\\"')
    )


def _canonical_double(value: float) -> str:
    # pyld's _canonicalize_double (JSON-LD 1.1 API §8.6 step 10: "%1.15E", no "+", no zeros)
    return re.sub(r"(\d)0*E\+?(-)?0*(\d)", r"\1E\2\3", f"{value:1.15E}")


class _Writer:
    """Walks one document in pyld's order, collecting RDF statements (JSON-LD 1.1 API §13.2
    Expansion Algorithm, §8.2 Deserialize JSON-LD to RDF), without building the expanded form.
    """

    __slots__ = ("_allow_relative_types", "_blank", "_document_blank", "empty_lists", "quads")

    def __init__(self, *, allow_relative_types: bool = False) -> None:
        self._allow_relative_types = allow_relative_types
        # pyld's node map merges equal values, so statements are a set ...
        self.quads: set[_Quad] = set()
        # ... except empty @list values, kept once per occurrence (``allowDuplicate``): the
        # same subject can state ``p rdf:nil`` twice and pyld writes both lines
        self.empty_lists: list[_Quad] = []
        self._blank = 0
        self._document_blank: dict[str, str] = {}

    def blank(self) -> str:
        self._blank += 1
        return f"_:b{self._blank}"

    def resource(self, iri: str | None) -> str:
        if iri is None:
            raise _BailError
        if iri.startswith("_:"):
            label = self._document_blank.get(iri)
            if label is None:
                label = self._document_blank[iri] = self.blank()
            return label
        if not _IRI.match(iri):
            raise _BailError  # an IRI pyld would drop, or write in a way we do not mirror
        return "<" + iri + ">"

    def document(self, element: Any) -> None:
        if not isinstance(element, dict):
            raise _BailError
        ctx = _root_context(_context_urls(element.get("@context")))
        self._node_body(ctx, element, None, 1)
        if len(self.quads) + len(self.empty_lists) > MAX_QUADS:
            raise InvalidCredential(
                f"document yields more than {MAX_QUADS} RDF statements", property="@context"
            )

    def node(
        self, ctx: _Context, active_property: str, element: dict[str, Any], *other: Any
    ) -> str:
        """A node object as the value of ``active_property`` (§13.2 steps 3, 7, 8, 9).

        ``other`` is (graph name or None, depth).
        """
        graph, depth = other
        property_scoped = (ctx.terms.get(active_property) or ctx.term(active_property)).scoped
        embedded = element.get("@context")
        previous = ctx.previous
        if previous is not None:
            # step 7: a type-scoped context does not propagate into nested nodes, except
            # to a value object or a lone node reference
            must_revert = True
            if len(element) <= 2 and embedded is None:
                for key in sorted(element):
                    expanded = ctx.term(key).iri
                    if expanded == "@value":
                        raise _BailError
                    if expanded == "@id" and len(element) == 1:
                        must_revert = False
                        break
            if must_revert:
                ctx = previous
        if property_scoped is not None:
            ctx = ctx.derive(property_scoped, propagate=True, override_protected=True)
        if embedded is not None or "@context" in element:
            # an embedded credential (endorsement, CLR assertion) names its own contexts
            ctx = ctx.embed(_context_urls(embedded))
        return self._node_body(ctx, element, graph, depth)

    def _node_body(
        self, ctx: _Context, element: dict[str, Any], graph: str | None, depth: int
    ) -> str:
        if depth > MAX_DEPTH:
            raise _too_deep()
        items = element.items()
        # step 11: type-scoped contexts, looked up in the context before any of them applies,
        # keys and type names in code point order (the statements do not depend on the order
        # of the other keys, so they are taken as they come)
        type_scoped = ctx
        type_entries = [
            (key, value)
            for key, value in items
            if key != "@context" and (ctx.terms.get(key) or ctx.term(key)).kind == _TYPE
        ]
        if len(type_entries) > 1:
            type_entries.sort()
        for _, value in type_entries:
            names = value if isinstance(value, list) else [value]
            for name in sorted(n for n in names if isinstance(n, str)):
                scoped = (type_scoped.terms.get(name) or type_scoped.term(name)).scoped
                if scoped is not None and scoped is not False:
                    ctx = ctx.derive(scoped, propagate=False, override_protected=False)
        terms = ctx.terms
        subject: str | None = None
        types: list[str] = []
        statements: list[tuple[str, str]] = []
        for key, value in items:
            if key == "@context":
                continue
            term = terms.get(key) or ctx.term(key)
            kind = term.kind
            if kind == _PROPERTY:
                self._property(ctx, term, key, value, statements, graph, depth)
            elif kind == _DROP:
                # safe mode: pyld's path checks exactly what expansion would lose and refuses
                raise _BailError
            elif kind == _ID:
                if subject is not None or not isinstance(value, str):
                    raise _BailError
                subject = self.resource(ctx.document_iri(value))
            elif kind == _TYPE:
                for name in value if isinstance(value, list) else (value,):
                    if not isinstance(name, str):
                        raise _BailError
                    resource = type_scoped.type_resource(name)
                    if resource is None:
                        raise _BailError  # blank node, relative, keyword (@json) types
                    if (
                        resource.startswith(_RELATIVE_TYPE_PREFIX)
                        and not self._allow_relative_types
                        and not name.startswith(jsonld.DEFAULT_BASE_IRI)
                    ):
                        raise _relative(name)
                    types.append(resource)
            else:
                raise _BailError
        if subject is None:
            subject = self.blank()
        add = self.quads.add
        for type_iri in types:
            add((subject, _RDF_TYPE, type_iri, graph))
        for predicate, obj in statements:
            if obj is _NIL_OF_EMPTY_LIST:
                self.empty_lists.append((subject, predicate, _RDF_NIL, graph))
            else:
                add((subject, predicate, obj, graph))
        return subject

    def _property(
        self,
        ctx: _Context,
        term: _Term,
        key: str,
        value: Any,
        statements: list[tuple[str, str]],
        *where: Any,
    ) -> None:
        """§13.2 steps 13.7-13.13 for one property of a node; ``where`` is (graph, depth)."""
        graph, depth = where
        term_ctx = ctx
        if term.scoped is not None:
            term_ctx = ctx.derive(term.scoped, propagate=True, override_protected=True)
        predicate = term.predicate
        child_depth = depth + 1
        if isinstance(value, list):
            values: Any = value
            child_depth += 1  # the array is a level of its own, as in _check_shape
            if depth + 1 > MAX_DEPTH:
                raise _too_deep()
        elif value is None:
            return
        else:
            values = (value,)
        if term.in_list:
            members = [
                self._member(term_ctx, key, item, graph, child_depth)
                for item in values
                if item is not None
            ]
            statements.append((predicate, self.collection(members, graph)))
            return
        in_graph = term.in_graph
        for item in values:
            if item is None:
                continue
            if in_graph:
                # step 13.13: each value becomes {"@graph": [value]}, a blank-node named
                # graph (the VC 2.0 context's ``proof`` is such a term)
                named = self.blank()
                if isinstance(item, dict):
                    self.node(term_ctx, key, item, named, child_depth)
                elif isinstance(item, str) and term_ctx.term(key).value_kind in (
                    _AS_ID,
                    _AS_VOCAB,
                ):
                    self.value(term_ctx, key, item)  # a reference alone: no statement
                else:
                    raise _BailError
                statements.append((predicate, named))
            elif isinstance(item, dict):
                statements.append((predicate, self.node(term_ctx, key, item, graph, child_depth)))
            elif isinstance(item, list):
                raise _BailError  # array of arrays
            else:
                statements.append((predicate, self.value(term_ctx, key, item)))

    def _member(self, ctx: _Context, active_property: str, item: Any, *where: Any) -> str:
        """One item of an ``@list`` container (§13.2 step 5, inside a list)."""
        if isinstance(item, dict):
            return self.node(ctx, active_property, item, *where)
        if isinstance(item, list):
            raise _BailError  # list of lists
        return self.value(ctx, active_property, item)

    def collection(self, members: list[str], graph: str | None) -> str:
        """An RDF collection of ``members`` (JSON-LD 1.1 API §8.5 List to RDF Conversion)."""
        if not members:
            return _NIL_OF_EMPTY_LIST
        head = node = self.blank()
        add = self.quads.add
        for position, member in enumerate(members, start=1):
            add((node, _RDF_FIRST, member, graph))
            rest = self.blank() if position < len(members) else _RDF_NIL
            add((node, _RDF_REST, rest, graph))
            node = rest
        return head

    def value(self, ctx: _Context, active_property: str, value: Any) -> str:
        """A scalar: value expansion (§5.3.2) then §8.6 Object to RDF Conversion."""
        term = ctx.terms.get(active_property) or ctx.term(active_property)
        kind = term.value_kind
        if kind is None:
            raise _BailError
        if value.__class__ is str:
            if kind == _AS_ID:
                return self.resource(ctx.document_iri(value))
            if kind == _AS_VOCAB:
                return self.resource(ctx.vocab(value))
            if _UNSAFE_TEXT.search(value):
                raise _BailError
            datatype = term.datatype
            if datatype is None:
                if term.language is not None:
                    return f'"{_escape(value)}"@{term.language}'
                return f'"{_escape(value)}"'
            if datatype == _XSD_DOUBLE:
                raise _BailError
            if datatype == _XSD_STRING:
                return f'"{_escape(value)}"'
            return f'"{_escape(value)}"^^<{datatype}>'
        datatype = term.datatype
        if isinstance(value, bool):
            lexical = "true" if value else "false"
            datatype = datatype or _XSD_BOOLEAN
        elif isinstance(value, float) and not value.is_integer():
            if not math.isfinite(value):
                raise _BailError
            lexical = _canonical_double(value)
            datatype = datatype or _XSD_DOUBLE
        elif isinstance(value, int | float):
            if datatype == _XSD_DOUBLE or abs(value) >= 1e21:
                lexical = _canonical_double(float(value))
                datatype = datatype or _XSD_DOUBLE
            else:
                lexical = str(int(value))
                datatype = datatype or _XSD_INTEGER
        else:
            raise _BailError
        if datatype == _XSD_STRING:
            return f'"{lexical}"'
        return f'"{lexical}"^^<{datatype}>'


def _too_deep() -> InvalidCredential:
    return InvalidCredential(
        f"document nests objects/arrays more than {MAX_DEPTH} levels deep", property="@context"
    )


def _fast(document: dict[str, Any], *, allow_relative_types: bool = False) -> str:
    writer = _Writer(allow_relative_types=allow_relative_types)
    writer.document(document)
    return _canonical_nquads([*writer.quads, *writer.empty_lists])


def _line(quad: _Quad) -> str:
    subject, predicate, obj, graph = quad
    if graph is None:
        return f"{subject} {predicate} {obj} .\n"
    return f"{subject} {predicate} {obj} {graph} .\n"


def _canonical_nquads(quads: list[_Quad]) -> str:
    """RDFC-1.0 (§4.4 Canonicalization Algorithm) for datasets whose blank nodes all have
    distinct first-degree hashes; any other dataset goes through pyld's implementation.

    When every first-degree hash is unique, step 5 (issue c14n labels in hash order) labels
    every blank node and Hash N-Degree Quads never runs, so this short form gives the same
    bytes as the full algorithm.
    """
    # §4.4.3 step 2: the blank node to quads map (a quad counts once per blank position,
    # as in pyld)
    mentions: dict[str, list[_Quad]] = {}
    lines: list[str] = []
    with_blank: list[_Quad] = []
    for quad in quads:
        subject, predicate, obj, graph = quad
        blank = False
        if subject[0] == "_":
            mentions.setdefault(subject, []).append(quad)
            blank = True
        if obj[0] == "_":
            mentions.setdefault(obj, []).append(quad)
            blank = True
        if graph is None:
            if not blank:
                lines.append(f"{subject} {predicate} {obj} .\n")
                continue
        elif graph[0] == "_":
            mentions.setdefault(graph, []).append(quad)
            blank = True
        if blank:
            with_blank.append(quad)
        else:
            lines.append(f"{subject} {predicate} {obj} {graph} .\n")
    if mentions:
        by_hash = {_first_degree_hash(blank, its): blank for blank, its in mentions.items()}
        if len(by_hash) != len(mentions):
            # shared first-degree hashes: Hash N-Degree Quads (§4.8) decides, as pyld does
            options = {"format": "application/n-quads"}
            result: str = URDNA2015().main(_pyld_dataset(quads), options)
            return result
        label = {blank: f"_:c14n{i}" for i, (_, blank) in enumerate(sorted(by_hash.items()))}
        for subject, predicate, obj, graph in with_blank:
            subject = label.get(subject, subject)
            obj = label.get(obj, obj)
            if graph is None:
                lines.append(f"{subject} {predicate} {obj} .\n")
            else:
                lines.append(f"{subject} {predicate} {obj} {label.get(graph, graph)} .\n")
    lines.sort()
    return "".join(lines)


_UNESCAPE = {"t": "\t", "n": "\n", "r": "\r", '"': '"', "\\": "\\"}
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def _pyld_term(term: str) -> dict[str, str]:
    """One of our N-Quads terms in pyld's RDF dataset shape (pyld.nquads.parse_nquads)."""
    if term[0] == "<":
        return {"type": "IRI", "value": term[1:-1]}
    if term[0] == "_":
        return {"type": "blank node", "value": term}
    end = term.rindex('"')
    value = _ESCAPED.sub(lambda m: _UNESCAPE[m.group(1)], term[1:end])
    suffix = term[end + 1 :]
    if suffix.startswith("@"):
        return {
            "type": "literal",
            "value": value,
            "datatype": _RDF_LANGSTRING,
            "language": suffix[1:],
        }
    datatype = suffix[3:-1] if suffix else _XSD_STRING
    return {"type": "literal", "value": value, "datatype": datatype}


def _pyld_dataset(quads: list[_Quad]) -> dict[str, list[dict[str, dict[str, str]]]]:
    """Our statements as pyld's dataset, duplicates kept (parse_nquads would drop them)."""
    dataset: dict[str, list[dict[str, dict[str, str]]]] = {}
    for subject, predicate, obj, graph in quads:
        name = "@default" if graph is None else _pyld_term(graph)["value"]
        dataset.setdefault(name, []).append(
            {
                "subject": _pyld_term(subject),
                "predicate": _pyld_term(predicate),
                "object": _pyld_term(obj),
            }
        )
    return dataset


def _first_degree_hash(blank: str, quads: list[_Quad]) -> str:
    """§4.6 Hash First Degree Quads: _:a for ``blank``, _:z for any other blank node."""

    def mask(term: str) -> str:
        if term[0] != "_":
            return term
        return "_:a" if term == blank else "_:z"

    lines = [_line((mask(s), p, mask(o), None if g is None else mask(g))) for s, p, o, g in quads]
    lines.sort()
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def canonize(document: dict[str, Any], *, allow_relative_types: bool = False) -> str:
    """Canonical N-Quads of ``document`` (RDFC-1.0), contexts served from the bundle only.

    Raises DocumentLoaderError for an unbundled context, DataLossError when JSON-LD would
    drop part of the document (or, unless allowed, a ``@type`` stays a relative IRI), and
    InvalidCredential when it is not valid JSON-LD, nests deeper than MAX_DEPTH or is too large.
    """
    return canonize_with_path(document, allow_relative_types=allow_relative_types)[0]


def canonize_with_path(
    document: dict[str, Any], *, allow_relative_types: bool = False
) -> tuple[str, str]:
    """``canonize`` plus which path produced it: ``"fast"`` or ``"pyld"``."""
    try:
        return _fast(document, allow_relative_types=allow_relative_types), FAST
    except MeritoError:
        raise
    except Exception:  # noqa: S110 - _BailError, a JsonLdError...: pyld decides, and reports
        pass
    return _pyld(document, allow_relative_types=allow_relative_types), PYLD


def _dropped(key: str) -> DataLossError:
    return DataLossError(
        f"property {key!r} is not defined by any of the document's JSON-LD contexts, so a "
        "signature would not cover it; define it in a context (or remove it)",
        property=key,
    )


def _relative(name: str) -> DataLossError:
    return DataLossError(
        f"type {name!r} is not defined by any of the document's JSON-LD contexts "
        "(it would be a relative IRI); add the context that defines it",
        property="type",
    )


# pyld resolves a relative @type against its default base: that prefix marks one
_RELATIVE_TYPE_PREFIX: Final = "<" + jsonld.DEFAULT_BASE_IRI


_VALUE_ANNOTATIONS: Final = frozenset({"@type", "@language", "@direction"})


def _scalars(node: Any, *, skip_context: bool) -> int:
    """Non-null scalar values in ``node`` (outside ``@context`` when ``skip_context``).

    A value object's ``@type``/``@language``/``@direction`` are not counted: expansion adds
    them from term definitions (datatype coercion, default language).
    """
    count = 0
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            value_object = "@value" in item
            for key, value in item.items():
                if skip_context and key == "@context":
                    continue
                if value_object and key in _VALUE_ANNOTATIONS:
                    continue
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
        elif item is not None:
            count += 1
    return count


def _relative_property(expanded: Any) -> str | None:
    """A property of the expanded form that is not an absolute IRI (RDF conversion drops it)."""
    stack = [expanded]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key[:1] != "@" and not _ABSOLUTE.match(key):
                    return str(key)
                if key != "@value":
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _relative_type(expanded: Any) -> str | None:
    stack = [expanded]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "@type" and "@value" not in item:
                    for name in value if isinstance(value, list) else [value]:
                        if isinstance(name, str) and not _ABSOLUTE.match(name):
                            return name
                elif key != "@value":
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return None


_ABSOLUTE: Final = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*:|_:)")


def _check_data_loss(document: dict[str, Any], *, allow_relative_types: bool) -> None:
    """Safe mode for the pyld path: expansion must keep every value (VC DI 1.0 §2.4).

    Expansion only ever drops a value together with its key (an undefined term, a key that
    expands to a relative IRI), so fewer scalars after expansion means data was lost.
    """
    expanded = jsonld.expand(document, {"documentLoader": pyld_loader, "base": ""})
    relative = _relative_property(expanded)
    if relative is not None:
        raise _dropped(relative)
    if _scalars(expanded, skip_context=False) < _scalars(document, skip_context=True):
        raise DataLossError(
            "part of the document is not defined by its JSON-LD contexts and would be dropped, "
            "so a signature would not cover it (undefined terms)",
            property="@context",
        )
    if not allow_relative_types:
        name = _relative_type(expanded)
        if name is not None:
            raise _relative(name)


def _pyld(document: dict[str, Any], *, allow_relative_types: bool = False) -> str:
    _check_shape(document)
    options = {
        "algorithm": "URDNA2015",
        "format": "application/n-quads",
        "documentLoader": pyld_loader,
    }
    try:
        _check_data_loss(document, allow_relative_types=allow_relative_types)
        result: str = jsonld.normalize(document, options)
    except jsonld.JsonLdError as e:
        cause = _root_cause(e)
        if isinstance(cause, DocumentLoaderError):
            raise cause from e
        raise InvalidCredential(
            f"document is not valid JSON-LD: {cause}", property="@context"
        ) from e
    except RecursionError as e:  # defensive: _check_shape keeps pyld far from the limit
        raise InvalidCredential("document is nested too deeply", property="@context") from e
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as e:
        # pyld lets some malformed input escape as a plain exception (e.g. a relative
        # "@context" URL inside a node): still a bad document, not a crash
        raise InvalidCredential(f"document is not valid JSON-LD: {e}", property="@context") from e
    return result


def _check_shape(document: Any) -> None:
    """Refuse documents pyld would recurse through too deeply, or that are huge."""
    count = 0
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise InvalidCredential(
                f"document has more than {MAX_VALUES} JSON values", property="@context"
            )
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > MAX_DEPTH:
            raise _too_deep()
        stack.extend((child, depth + 1) for child in children)


def _root_cause(error: BaseException) -> BaseException:
    seen = error
    while True:
        nxt = getattr(seen, "cause", None) or seen.__cause__
        if nxt is None or nxt is seen:
            return seen
        seen = nxt
