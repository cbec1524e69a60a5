"""JSON Schema validation of OB 3.0 AchievementCredentials, plus VC 2.0 core rules.

The schema is the official 1EdTech ``ob_v3p0_achievementcredential_schema.json`` (draft
2019-09), bundled in ``formats/schemas``; it is compiled once and never fetches anything
(every ``$ref`` is local; an unknown reference is refused).

JSON-LD "one or many": the official plain-JSON schema wants arrays for every [0..*] and [1..*]
property (``proof``, ``type``, ``evidence``...), while JSON-LD compaction writes a single value
without an array, and 1EdTech's own validator and spec examples accept that (it validates
against its JSON-LD schema variant first; openbadges-specification issue #473). So, as that
variant does, a single value where the schema wants an array is read as a one-item array, and
issue paths are reported against the document as written.

Formats (``date-time``) are annotations in draft 2019-09, not assertions; the dates that matter
are checked by the VC 2.0 core rules here instead (``validFrom``/``validUntil`` must be XML
Schema dateTimeStamps, VC 2.0 §4.9).

When the optional ``jsonschema_rs`` accelerator is installed, a document is first checked with
it (microseconds); only an invalid document goes through ``jsonschema`` to explain why.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, Final, Literal

from jsonschema import Draft201909Validator  # type: ignore[import-untyped,unused-ignore]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped,unused-ignore]
from referencing import Registry
from referencing.jsonschema import DRAFT201909

__all__ = [
    "OB3_SCHEMA_ID",
    "SchemaIssue",
    "check_vc2_core",
    "validate_achievement_credential",
    "validate_against_schema",
    "validate_endorsement_credential",
]

_SCHEMA_FILE: Final = "ob_v3p0_achievementcredential_schema.json"
#: the ``$id`` of the bundled schema
OB3_SCHEMA_ID: Final = "https://purl.imsglobal.org/spec/ob/v3p0/schema/json-ld/ob_v3p0_achievementcredential_schema.json"
_VC_V2_CONTEXT: Final = "https://www.w3.org/ns/credentials/v2"

Source = Literal["schema", "vc2"]


@dataclass(frozen=True, slots=True)
class SchemaIssue:
    """One reason a document does not conform.

    ``path`` names the offending property as written in the document, e.g.
    ``credentialSubject.achievement.criteria`` or ``evidence[1].type`` ("" is the document
    itself). ``message`` says what is wrong in plain language. ``source`` tells which rule set
    found it: the official OB 3.0 JSON Schema (``"schema"``) or Merito's VC 2.0 core checks
    (``"vc2"``); ``code`` is the JSON Schema keyword or the core rule's name.
    """

    path: str
    message: str
    source: Source = "schema"
    code: str = ""

    def __str__(self) -> str:
        return f"{self.path or '(document)'}: {self.message}"


# --- the compiled schema -----------------------------------------------------------------------


@cache
def _schema() -> dict[str, Any]:
    raw = resources.files("merito.formats.schemas").joinpath(_SCHEMA_FILE).read_bytes()
    schema: dict[str, Any] = json.loads(raw)
    return schema


@cache
def _validator() -> Draft201909Validator:
    schema = _schema()
    # An explicit registry: referencing's default retrieval refuses every unknown URI, and
    # jsonschema's deprecated fallback that fetches remote $refs over HTTP is not used.
    registry: Registry[Any] = Registry().with_resource(
        OB3_SCHEMA_ID, DRAFT201909.create_resource(schema)
    )
    return Draft201909Validator(schema, registry=registry)


@cache
def _fast_is_valid() -> Callable[[Any], bool] | None:
    """``jsonschema_rs``'s is_valid for the schema, or None when it is not installed."""
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - depends on the environment
        return None

    def refuse(uri: str) -> Any:
        raise ValueError(f"remote schema {uri!r} refused: schemas are bundled")

    validator = jsonschema_rs.Draft201909Validator(
        _schema(), validate_formats=False, retriever=refuse
    )
    is_valid: Callable[[Any], bool] = validator.is_valid
    return is_valid


# --- JSON-LD "one or many": read a single value as a one-item array ------------------------------


@dataclass(eq=False, slots=True)
class _Plan:
    """What the schema expects at one place: an array (wrap), its items, object properties."""

    wrap: bool = False
    items: _Plan | None = None
    props: dict[str, _Plan] = field(default_factory=dict)
    subs: list[_Plan] = field(default_factory=list)


def _compile_plan(schema: Mapping[str, Any]) -> _Plan:
    defs: Mapping[str, Any] = schema.get("$defs", {})
    memo: dict[int, _Plan] = {}

    def compile_node(node: Any) -> _Plan:
        if not isinstance(node, Mapping):
            return _Plan()
        key = id(node)
        if key in memo:
            return memo[key]
        plan = memo[key] = _Plan()
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            plan.subs.append(compile_node(defs.get(ref.removeprefix("#/$defs/"))))
        for sub in node.get("allOf", ()):
            plan.subs.append(compile_node(sub))
        for keyword in ("anyOf", "oneOf"):
            branches = [compile_node(sub) for sub in node.get(keyword, ())]
            # a choice is an array only if every branch is; object branches all apply
            plan.subs.extend(_Plan(props=b.props, subs=b.subs) for b in branches)
            if branches and all(_is_array(sub) for sub in node.get(keyword, ())):
                plan.wrap = True
        if node.get("type") == "array" and isinstance(node.get("items"), Mapping):
            plan.wrap = True
            plan.items = compile_node(node["items"])
        for name, sub in node.get("properties", {}).items():
            plan.props[name] = compile_node(sub)
        return plan

    def _is_array(node: Any) -> bool:
        return isinstance(node, Mapping) and node.get("type") == "array"

    root = compile_node(schema)
    _flatten(memo.values())
    return root


def _flatten(plans: Iterable[_Plan]) -> None:
    """Fold every plan's ``subs`` into it, until nothing changes (schemas are recursive)."""
    plans = list(plans)
    changed = True
    while changed:
        changed = False
        for plan in plans:
            for sub in plan.subs:
                if sub.wrap and not plan.wrap:
                    plan.wrap, changed = True, True
                if sub.items is not None and plan.items is None:
                    plan.items, changed = sub.items, True
                for name, p in sub.props.items():
                    if name not in plan.props:
                        plan.props[name], changed = p, True


@cache
def _plan() -> _Plan:
    return _compile_plan(_schema())


Path = tuple[str | int, ...]


def _coerce(value: Any, plan: _Plan, path: Path, wrapped: set[Path]) -> Any:
    """``value`` with single values wrapped where ``plan`` wants arrays (copy on write)."""
    if plan.wrap and not isinstance(value, list):
        wrapped.add(path)
        value = [value]
    if isinstance(value, list):
        if plan.items is None:
            return value
        out: list[Any] | None = None
        for i, item in enumerate(value):
            new = _coerce(item, plan.items, (*path, i), wrapped)
            if new is not item:
                if out is None:
                    out = list(value)
                out[i] = new
        return value if out is None else out
    if isinstance(value, dict) and plan.props:
        changed: dict[str, Any] | None = None
        for name, item in value.items():
            sub = plan.props.get(name)
            if sub is None:
                continue
            new = _coerce(item, sub, (*path, name), wrapped)
            if new is not item:
                if changed is None:
                    changed = dict(value)
                changed[name] = new
        return value if changed is None else changed
    return value


def _original_path(path: Iterable[str | int], wrapped: set[Path]) -> Path:
    """Map a path in the coerced document back to the document as written."""
    coerced: list[str | int] = []
    original: list[str | int] = []
    skip = False
    for element in path:
        coerced.append(element)
        if not skip:
            original.append(element)
        skip = tuple(coerced) in wrapped
    return tuple(original)


def _format_path(path: Iterable[str | int]) -> str:
    out = ""
    for element in path:
        if isinstance(element, int):
            out += f"[{element}]"
        else:
            out += f".{element}" if out else element
    return out


# --- plain-language messages ---------------------------------------------------------------------

_JSON_TYPES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null",
}
_TYPE_NAMES = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "boolean": "a boolean",
    "number": "a number",
    "integer": "an integer",
    "null": "null",
}
_REQUIRED_RE = re.compile(r"^'(?P<name>.+)' is a required property$")


def _describe(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _message(error: ValidationError) -> str:
    keyword, expected, instance = error.validator, error.validator_value, error.instance
    if keyword == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        return f"must be {wanted}, found {_describe(instance)}"
    if keyword in ("enum", "const"):
        options = [expected] if keyword == "const" else list(expected)
        if len(options) == 1:
            return f"must be {options[0]!r}, found {instance!r}"
        return f"must be one of {', '.join(map(repr, options))}, found {instance!r}"
    if keyword == "contains" and isinstance(expected, Mapping) and "enum" in expected:
        return f"must include {' or '.join(map(repr, expected['enum']))}, found {instance!r}"
    if keyword == "minItems":
        return f"must have at least {expected} item{'s' if expected != 1 else ''}"
    if keyword == "pattern":
        return f"{instance!r} does not match the required pattern {expected}"
    if keyword in ("oneOf", "anyOf") and error.context:
        forms = "; or ".join(dict.fromkeys(_message(sub) for sub in error.context))
        return f"matches none of the allowed forms: {forms}"
    return str(error.message)


def _leaf_errors(error: ValidationError) -> list[ValidationError]:
    """For a failed oneOf/anyOf, the errors of the branch the document meant to use."""
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return [error]
    by_branch: dict[int, list[ValidationError]] = {}
    for sub in error.context:
        branch = sub.relative_schema_path[0] if sub.relative_schema_path else 0
        by_branch.setdefault(int(branch), []).append(sub)
    # The branch whose type matched the value fails deeper than the others ("must be a
    # string" at the property itself); its errors say what is actually wrong.
    best = max(by_branch.values(), key=lambda errs: max(len(e.absolute_path) for e in errs))
    if max(len(e.absolute_path) for e in best) <= len(error.absolute_path):
        return [error]
    return [leaf for sub in best for leaf in _leaf_errors(sub)]


def validate_against_schema(doc: Any) -> list[SchemaIssue]:
    """Issues of ``doc`` against the official OB 3.0 AchievementCredential JSON Schema."""
    return _issues(doc, _plan(), _validator(), _fast_is_valid())


_ENDORSEMENT_REF: Final = OB3_SCHEMA_ID + "#/$defs/EndorsementCredential"


@cache
def _endorsement_validator() -> Draft201909Validator:
    # the EndorsementCredential definition of the bundled schema (the same definition 1EdTech
    # publishes as ob_v3p0_endorsementcredential_schema.json), through the same local registry
    root = {"$schema": "https://json-schema.org/draft/2019-09/schema", "$ref": _ENDORSEMENT_REF}
    registry: Registry[Any] = Registry().with_resource(
        OB3_SCHEMA_ID, DRAFT201909.create_resource(_schema())
    )
    return Draft201909Validator(root, registry=registry)


@cache
def _endorsement_plan() -> _Plan:
    return _compile_plan({"$defs": _schema()["$defs"], "$ref": "#/$defs/EndorsementCredential"})


def validate_endorsement_credential(doc: Any) -> list[SchemaIssue]:
    """Every issue of ``doc`` as an OB 3.0 EndorsementCredential (the official schema's
    definition, then the VC 2.0 core rules). Empty means conforming."""
    issues = _issues(doc, _endorsement_plan(), _endorsement_validator(), None)
    return [*issues, *check_vc2_core(doc)]


def _issues(
    doc: Any,
    plan: _Plan,
    validator: Draft201909Validator,
    fast: Callable[[Any], bool] | None,
) -> list[SchemaIssue]:
    wrapped: set[Path] = set()
    coerced = _coerce(doc, plan, (), wrapped)
    if fast is not None and fast(coerced):
        return []
    issues: dict[tuple[str, str], SchemaIssue] = {}
    for error in validator.iter_errors(coerced):
        for leaf in _leaf_errors(error):
            path = _original_path(leaf.absolute_path, wrapped)
            message = _message(leaf)
            if leaf.validator == "required":
                match = _REQUIRED_RE.match(str(leaf.message))
                if match:
                    path = (*path, match["name"])
                    message = f"'{match['name']}' is required"
            text = _format_path(path)
            issues.setdefault(
                (text, message),
                SchemaIssue(path=text, message=message, source="schema", code=str(leaf.validator)),
            )
    return sorted(issues.values(), key=lambda i: (i.path, i.message))


# --- VC 2.0 core rules the schema does not check -------------------------------------------------

# VC 2.0 §4.9: validFrom/validUntil are XML Schema dateTimeStamp values (timezone mandatory).
_DATE_TIME_STAMP_RE = re.compile(
    r"^-?\d{4,}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d"
    r"(?:\.\d+)?(?:Z|[+-](?:(?:0\d|1[0-3]):[0-5]\d|14:00))$"
)
# RFC 3986 §3.1: a URL has a scheme
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")


def _instant(value: str) -> float | None:
    """The POSIX time of a dateTimeStamp (None if Python cannot read it)."""
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    head, dot, rest = text.partition(".")
    if dot:
        # Python keeps microseconds only: trim longer fractions instead of failing
        digits = re.match(r"\d*", rest)
        frac = digits.group(0) if digits else ""
        text = f"{head}.{frac[:6].ljust(6, '0')}{rest[len(frac) :]}"
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def check_vc2_core(doc: Any) -> list[SchemaIssue]:
    """VC Data Model 2.0 rules that JSON Schema does not express (each cites its section)."""
    issues: list[SchemaIssue] = []

    def issue(path: str, message: str, code: str) -> None:
        issues.append(SchemaIssue(path=path, message=message, source="vc2", code=code))

    if not isinstance(doc, Mapping):
        issue("", f"a credential must be a JSON object, found {_describe(doc)}", "document")
        return issues

    # §4.3 Contexts: an ordered set whose first item is the VC 2.0 context URL.
    context = doc.get("@context")
    if context is None:
        issue("@context", "'@context' is required", "context-required")
    else:
        first = context[0] if isinstance(context, list) and context else context
        if first != _VC_V2_CONTEXT:
            issue(
                "@context[0]" if isinstance(context, list) else "@context",
                f"the first '@context' entry must be {_VC_V2_CONTEXT!r}, found {first!r}",
                "context-first",
            )

    # §4.5 Types: "VerifiableCredential" must be one of the types.
    types = doc.get("type")
    type_list = types if isinstance(types, list) else [types]
    if "VerifiableCredential" not in type_list:
        issue("type", f"'type' must include 'VerifiableCredential', found {types!r}", "type")

    # §4.4 Identifiers: id, if present, is a URL.
    cred_id = doc.get("id")
    if cred_id is not None and not (isinstance(cred_id, str) and _URL_RE.match(cred_id)):
        issue("id", f"'id' must be a URL, found {cred_id!r}", "id-url")

    # §4.7 Issuer: a URL, or an object whose id is a URL.
    issuer = doc.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, Mapping) else issuer
    if issuer is None:
        issue("issuer", "'issuer' is required", "issuer-required")
    elif not (isinstance(issuer_id, str) and _URL_RE.match(issuer_id)):
        where = "issuer.id" if isinstance(issuer, Mapping) else "issuer"
        issue(where, f"the issuer must be identified by a URL, found {issuer_id!r}", "issuer-url")

    # §4.8 Credential Subject: required.
    subject = doc.get("credentialSubject")
    if subject is None:
        issue("credentialSubject", "'credentialSubject' is required", "subject-required")

    # §4.9 Validity Period: dateTimeStamp values; validFrom not after validUntil.
    instants: dict[str, float | None] = {}
    for name in ("validFrom", "validUntil"):
        value = doc.get(name)
        if value is None:
            continue
        if not (isinstance(value, str) and _DATE_TIME_STAMP_RE.match(value)):
            issue(
                name,
                f"'{name}' must be an XML Schema dateTimeStamp with a timezone, e.g. "
                f"2024-05-01T12:00:00Z; found {value!r}",
                "datetime-stamp",
            )
            continue
        instants[name] = _instant(value)
    start, end = instants.get("validFrom"), instants.get("validUntil")
    if start is not None and end is not None and start > end:
        issue("validUntil", "'validUntil' must not be earlier than 'validFrom'", "validity-order")

    # VC 1.1 properties are not VC 2.0 terms (§4.9 replaced them with validFrom/validUntil).
    for legacy, replacement in (("issuanceDate", "validFrom"), ("expirationDate", "validUntil")):
        if legacy in doc:
            issue(
                legacy,
                f"'{legacy}' is a VC 1.1 property; VC 2.0 uses '{replacement}'",
                "vc1-property",
            )
    return issues


def validate_achievement_credential(doc: Any) -> list[SchemaIssue]:
    """Every issue of ``doc`` as an OB 3.0 AchievementCredential: the official JSON Schema,
    then the VC 2.0 core rules (``source`` tells them apart). Empty means conforming."""
    return [*validate_against_schema(doc), *check_vc2_core(doc)]
