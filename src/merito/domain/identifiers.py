"""Recipient identifiers (OB 3.0 IdentityObject, IdentifierEntry), salted identity hashes,
and ``WireModel``, the pydantic base every Open Badges / VC 2.0 model shares.

``WireModel`` keeps a document's meaning and shape when it goes through a model and back:

- attributes are snake_case, the wire names are the spec's (``valid_from`` <-> ``validFrom``);
- unknown properties (an issuer's extension data) are kept (``extra="allow"``);
- properties that were absent stay absent (serialization excludes what was never set);
- the key order of the input is remembered and restored on output, so a signed document
  parsed and dumped again is the same JSON object, key for key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any, ClassVar, Literal, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic.alias_generators import to_camel

__all__ = [
    "WIRE_CONTEXT",
    "IdentifierEntry",
    "IdentityObject",
    "WireModel",
    "as_list",
    "hash_identity",
    "identity_matches",
    "normalize_identity",
    "salted_identity_json",
    "salted_identity_object",
]

_T = TypeVar("_T")

#: Validation context that marks a model as parsed from a wire document (not built in code):
#: defaults are then not filled in for required properties such as ``type``.
WIRE_CONTEXT: dict[str, Any] = {"wire": True}


def as_list(value: _T | list[_T] | None) -> list[_T]:
    """A JSON-LD "one or many" value as a list (None: empty); the model keeps the shape."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def _is_wire(info: ValidationInfo) -> bool:
    context = info.context
    return isinstance(context, dict) and bool(context.get("wire"))


class WireModel(BaseModel):
    """Base of every JSON-LD wire model: spec property names, extras kept, key order kept."""

    model_config = ConfigDict(
        extra="allow",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    #: the IRI the ``type`` property MUST include (None: no such rule for this class)
    type_iri: ClassVar[str | None] = None

    _wire_order: tuple[str, ...] | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _wire_rules(
        cls, data: Any, handler: ModelWrapValidatorHandler[Self], info: ValidationInfo
    ) -> Self:
        if (
            isinstance(data, dict)
            and _is_wire(info)
            and cls.type_iri is not None
            and "type" in cls.model_fields
            and "type" not in data
        ):
            raise ValueError(f"'type' is required and must include {cls.type_iri!r}")
        instance = handler(data)
        if isinstance(data, dict):
            fields = cls.model_fields
            order = [(fields[k].alias or k) if k in fields else k for k in data]
            if "type" in fields and "type" not in order:
                # a defaulted ``type`` goes where JSON-LD authors put it: after ``id``
                order.insert(1 if order[:1] == ["id"] else 0, "type")
            instance._wire_order = tuple(order)
        fields_set = instance.model_fields_set
        if "type" in cls.model_fields:
            # a defaulted ``type`` is part of the document: always serialize it
            fields_set.add("type")
        if not _is_wire(info):
            # built in code, ``name=None`` means "absent", not JSON null
            fields_set.difference_update(
                [n for n in fields_set if n in cls.model_fields and getattr(instance, n) is None]
            )
        return instance

    @field_validator("type", check_fields=False)
    @classmethod
    def _type_includes_class_iri(cls, value: Any) -> Any:
        iri = cls.type_iri
        if iri is None:
            return value
        types = [value] if isinstance(value, str) else value
        if iri not in types:
            raise ValueError(f"'type' must include {iri!r}, got {value!r}")
        return value

    @model_serializer(mode="wrap")
    def _restore_key_order(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Any:
        out = handler(self)
        order = self._wire_order
        if not order or not isinstance(out, dict):
            return out
        if not info.by_alias:
            names = {f.alias: name for name, f in type(self).model_fields.items() if f.alias}
            order = tuple(names.get(k, k) for k in order)
        ordered = {k: out[k] for k in order if k in out}
        if len(ordered) != len(out):
            ordered.update((k, v) for k, v in out.items() if k not in ordered)
        return ordered

    def to_json(self) -> dict[str, Any]:
        """The JSON document (spec property names, only what was set, input key order)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class IdentifierEntry(WireModel):
    """OB 3.0 §B.1.11 IdentifierEntry: another identifier of a profile or achievement."""

    type_iri: ClassVar[str | None] = "IdentifierEntry"

    type: str = "IdentifierEntry"
    identifier: str
    identifier_type: str


class IdentityObject(WireModel):
    """OB 3.0 §B.1.12 IdentityObject: a (usually salted and hashed) recipient identifier."""

    type_iri: ClassVar[str | None] = "IdentityObject"

    type: str = "IdentityObject"
    hashed: bool
    identity_hash: str
    identity_type: str
    salt: str | None = None


# --- salted identity hashes (OB 3.0 §B.3 "IdentityHash") -------------------------------------

_HASH_RE = re.compile(r"^(?P<alg>sha256|md5)\$(?P<hex>[0-9a-fA-F]+)$")
_HEX_LENGTH = {"sha256": 64, "md5": 32}
EMAIL_ADDRESS: Literal["emailAddress"] = "emailAddress"


def normalize_identity(identity: str, *, identity_type: str = EMAIL_ADDRESS) -> str:
    """The form of ``identity`` that is hashed.

    Email addresses are trimmed and lower-cased: hosts are case-insensitive and in practice
    mailbox names are too, and OB 2.0 validators lower-case before hashing, so
    ``Ada@Example.org`` and ``ada@example.org`` name one recipient. Other identifier types
    (student ids, national numbers...) can be case-sensitive and are only trimmed.
    """
    value = identity.strip()
    if identity_type == EMAIL_ADDRESS:
        return value.lower()
    return value


def hash_identity(identity: str, *, salt: str, identity_type: str = EMAIL_ADDRESS) -> str:
    """OB 3.0 IdentityHash: ``"sha256$" + hex(SHA-256(UTF-8(identity + salt)))``.

    The identity is normalized first (see ``normalize_identity``). OB 3.0 §B.3's example:
    ``hash_identity("a@example.com", salt="Kosher")`` is
    ``sha256$b5809d8a92f8858436d7e6b87c12ebc0ae1eac4baecc2c0b913aee2c922ef399``.
    The salt is a parameter: callers draw it from their own random source.
    """
    normalized = normalize_identity(identity, identity_type=identity_type)
    digest = hashlib.sha256((normalized + salt).encode("utf-8")).hexdigest()
    return f"sha256${digest}"


def salted_identity_object(
    identity: str, *, salt: str, identity_type: str = EMAIL_ADDRESS
) -> IdentityObject:
    """A hashed IdentityObject for ``identity`` (what an issuer puts in ``identifier``)."""
    return IdentityObject(
        hashed=True,
        identity_hash=hash_identity(identity, salt=salt, identity_type=identity_type),
        identity_type=identity_type,
        salt=salt,
    )


def salted_identity_json(
    identity: str, *, salt: str, identity_type: str = EMAIL_ADDRESS
) -> dict[str, Any]:
    """``salted_identity_object(...).to_json()``, built directly: bulk issuance writes one per
    credential, and the model's validation and serialisation cost as much as a tenth of a
    signature. tests/unit/domain pins the two to the same output."""
    return {
        "type": "IdentityObject",
        "hashed": True,
        "identityHash": hash_identity(identity, salt=salt, identity_type=identity_type),
        "identityType": identity_type,
        "salt": salt,
    }


def _digest(algorithm: str, data: bytes) -> str:
    if algorithm == "md5":
        # OB 3.0 §B.3 lets verifiers meet MD5 hashes; Merito never produces them.
        return hashlib.md5(data, usedforsecurity=False).hexdigest()
    return hashlib.sha256(data).hexdigest()


def identity_matches(identity_object: IdentityObject, candidate: str) -> bool:
    """Whether ``candidate`` (e.g. an email the holder claims) is the recipient named.

    Hashed identities are recomputed over candidate + salt (no salt: unsalted, §B.1.12),
    with the candidate both as given and normalized, and compared in constant time.
    Plaintext identities compare normalized. An unknown hash algorithm never matches.
    """
    identity_type = identity_object.identity_type
    normalized = normalize_identity(candidate, identity_type=identity_type)
    if not identity_object.hashed:
        expected = normalize_identity(identity_object.identity_hash, identity_type=identity_type)
        return hmac.compare_digest(expected.encode("utf-8"), normalized.encode("utf-8"))
    match = _HASH_RE.match(identity_object.identity_hash.strip())
    if match is None:
        return False
    algorithm, expected_hex = match["alg"], match["hex"].lower()
    if len(expected_hex) != _HEX_LENGTH[algorithm]:
        return False
    salt = identity_object.salt or ""
    found = False
    for value in dict.fromkeys((candidate, normalized)):
        actual = _digest(algorithm, (value + salt).encode("utf-8"))
        found |= hmac.compare_digest(actual, expected_hex)
    return found
