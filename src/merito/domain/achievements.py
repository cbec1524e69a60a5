"""Open Badges 3.0 achievement definitions and issuer profiles (OB 3.0 Appendix B.1).

Achievement, its Criteria, Alignment, ResultDescription (with RubricCriterionLevel), Related,
Image, and Profile (issuer, creator, source; with Address and GeoCoordinates). Every class
keeps an issuer's extension properties (``WireModel``). Dates stay strings as written, so a
signed document survives a round trip byte for byte; ``parse_datetime`` reads them.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, Field

from merito.domain.identifiers import IdentifierEntry, WireModel

__all__ = [
    "Achievement",
    "Address",
    "Alignment",
    "Criteria",
    "Date",
    "DateTime",
    "DateTimeZ",
    "GeoCoordinates",
    "Image",
    "JsonObject",
    "Profile",
    "ProfileRef",
    "Related",
    "ResultDescription",
    "RubricCriterionLevel",
    "parse_datetime",
]

#: an embedded JSON object kept as is (e.g. an endorsement: a separately signed credential)
JsonObject = dict[str, Any]

# XML Schema dateTimeStamp, as VC 2.0 §4.9 requires for validFrom/validUntil: a timezone
# offset is mandatory. Fractional seconds are allowed.
_DATE_TIME_Z_RE = re.compile(
    r"^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$"
)
_DATE_TIME_RE = re.compile(
    r"^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?$"
)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_datetime(value: str) -> datetime:
    """Parse an XML Schema dateTime(Stamp) (``2010-01-01T19:23:24Z``) to a datetime.

    Raises ValueError when ``value`` is not one. A value without an offset gives a naive
    datetime; callers comparing instants should reject those.
    """
    if not _DATE_TIME_RE.match(value):
        raise ValueError(f"{value!r} is not an XML Schema dateTime (YYYY-MM-DDThh:mm:ss[Z])")
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    if "." in text:
        # Python keeps microseconds only: trim longer fractions instead of failing
        head, _, tail = text.partition(".")
        digits = re.match(r"\d+", tail)
        frac = digits.group(0) if digits else ""
        text = f"{head}.{frac[:6].ljust(6, '0')}{tail[len(frac) :]}"
    return datetime.fromisoformat(text)


def _check_date_time_z(value: str) -> str:
    if not _DATE_TIME_Z_RE.match(value):
        raise ValueError(
            f"{value!r} is not an XML Schema dateTimeStamp: "
            "use YYYY-MM-DDThh:mm:ss with Z or an offset, e.g. 2024-05-01T12:00:00Z"
        )
    parse_datetime(value)
    return value


def _check_date_time(value: str) -> str:
    parse_datetime(value)
    return value


def _check_date(value: str) -> str:
    if not _DATE_RE.match(value):
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)")
    date.fromisoformat(value)
    return value


#: OB 3.0 DateTimeZ / VC 2.0 dateTimeStamp, kept as the string written
DateTimeZ = Annotated[str, AfterValidator(_check_date_time_z)]
#: OB 3.0 DateTime (offset optional), kept as the string written
DateTime = Annotated[str, AfterValidator(_check_date_time)]
#: OB 3.0 Date (YYYY-MM-DD)
Date = Annotated[str, AfterValidator(_check_date)]
#: a JSON number kept as written (3 stays 3, 3.0 stays 3.0)
Number = int | float


class Image(WireModel):
    """§B.1.13 Image: an image URI (or data URI) with an optional caption."""

    type_iri: ClassVar[str | None] = "Image"

    id: str
    type: str = "Image"
    caption: str | None = None


class GeoCoordinates(WireModel):
    """§B.1.10 GeoCoordinates."""

    type_iri: ClassVar[str | None] = "GeoCoordinates"

    type: str = "GeoCoordinates"
    latitude: Number
    longitude: Number


class Address(WireModel):
    """§B.1.4 Address."""

    type_iri: ClassVar[str | None] = "Address"

    type: str | list[str] = Field(default_factory=lambda: ["Address"])
    address_country: str | None = None
    address_country_code: str | None = None
    address_region: str | None = None
    address_locality: str | None = None
    street_address: str | None = None
    post_office_box_number: str | None = None
    postal_code: str | None = None
    geo: GeoCoordinates | None = None


class Profile(WireModel):
    """§B.1.14 Profile: an issuer, creator, endorser or assessing organization."""

    type_iri: ClassVar[str | None] = "Profile"

    id: str
    type: str | list[str] = Field(default_factory=lambda: ["Profile"])
    name: str | None = None
    url: str | None = None
    phone: str | None = None
    description: str | None = None
    endorsement: JsonObject | list[JsonObject] | None = None
    endorsement_jwt: str | list[str] | None = None
    image: str | Image | None = None
    email: str | None = None
    address: Address | None = None
    other_identifier: IdentifierEntry | list[IdentifierEntry] | None = None
    official: str | None = None
    parent_org: Profile | None = None
    family_name: str | None = None
    given_name: str | None = None
    additional_name: str | None = None
    patronymic_name: str | None = None
    honorific_prefix: str | None = None
    honorific_suffix: str | None = None
    family_name_prefix: str | None = None
    date_of_birth: Date | None = None


#: §B.1.20 ProfileRef: the profile's URI or the profile itself
ProfileRef = str | Profile


class Alignment(WireModel):
    """§B.1.5 Alignment: a link from an achievement (or result) to a framework node."""

    type_iri: ClassVar[str | None] = "Alignment"

    type: str | list[str] = Field(default_factory=lambda: ["Alignment"])
    target_code: str | None = None
    target_description: str | None = None
    target_name: str
    target_framework: str | None = None
    target_type: str | None = None
    target_url: str


class Criteria(WireModel):
    """§B.1.6 Criteria: how the achievement is earned (a page, a narrative, or both)."""

    id: str | None = None
    narrative: str | None = None


class Related(WireModel):
    """§B.1.15 Related: another edition (language, version) of the same achievement."""

    type_iri: ClassVar[str | None] = "Related"

    id: str
    type: str | list[str] = Field(default_factory=lambda: ["Related"])
    in_language: str | None = None
    version: str | None = None


class RubricCriterionLevel(WireModel):
    """§B.1.18 RubricCriterionLevel."""

    type_iri: ClassVar[str | None] = "RubricCriterionLevel"

    id: str
    type: str | list[str] = Field(default_factory=lambda: ["RubricCriterionLevel"])
    alignment: Alignment | list[Alignment] | None = None
    description: str | None = None
    level: str | None = None
    name: str
    points: str | None = None


class ResultDescription(WireModel):
    """§B.1.17 ResultDescription: a kind of result an assertion of the achievement may carry."""

    type_iri: ClassVar[str | None] = "ResultDescription"

    id: str
    type: str | list[str] = Field(default_factory=lambda: ["ResultDescription"])
    alignment: Alignment | list[Alignment] | None = None
    allowed_value: str | list[str] | None = None
    name: str
    required_level: str | None = None
    required_value: str | None = None
    result_type: str
    rubric_criterion_level: RubricCriterionLevel | list[RubricCriterionLevel] | None = None
    value_max: str | None = None
    value_min: str | None = None


class Achievement(WireModel):
    """§B.1.1 Achievement: what is recognized (the badge class of OB 2.0)."""

    type_iri: ClassVar[str | None] = "Achievement"

    id: str
    type: str | list[str] = Field(default_factory=lambda: ["Achievement"])
    alignment: Alignment | list[Alignment] | None = None
    achievement_type: str | None = None
    creator: Profile | None = None
    credits_available: Number | None = None
    criteria: Criteria
    description: str
    endorsement: JsonObject | list[JsonObject] | None = None
    endorsement_jwt: str | list[str] | None = None
    field_of_study: str | None = None
    human_code: str | None = None
    image: str | Image | None = None
    in_language: str | None = None
    name: str
    other_identifier: IdentifierEntry | list[IdentifierEntry] | None = None
    related: Related | list[Related] | None = None
    result_description: ResultDescription | list[ResultDescription] | None = None
    specialization: str | None = None
    tag: str | list[str] | None = None
    version: str | None = None
