"""Achievements: drafts, immutable published versions, archive, images, validation, isolation."""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from services_support import MovableClock, SeededOrg
from sqlalchemy import func, select

from merito.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from merito.formats.images import inspect_image
from merito.services import catalog, issuing
from merito.services.catalog import AchievementFields
from merito.services.platform import Platform
from merito.storage.tables import AchievementVersionRow, AuditLogRow
from merito.storage.tables_catalog import ImageRow

Seed = Callable[..., SeededOrg]

BASIC: dict[str, Any] = {
    "name": "Data Literacy",
    "description": "Reads, cleans and explains a data set.",
    "criteria": {"narrative": "Passed the practical assessment."},
}


def fields(**members: Any) -> AchievementFields:
    return AchievementFields.model_validate({**BASIC, **members})


def png(width: int = 2, height: int = 2, *, idat: bytes | None = None) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    if idat is None:
        idat = zlib.compress(b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height)))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


def _calls(*calls: Callable[[], object]) -> tuple[Callable[[], object], ...]:
    return calls


def _actions(platform: Platform, org_id: str) -> list[str]:
    with platform.reading() as session:
        return list(
            session.scalars(
                select(AuditLogRow.action)
                .where(AuditLogRow.org_id == org_id)
                .order_by(AuditLogRow.id)
            )
        )


def test_create_edit_publish_republish(platform: Platform, seed_org: Seed) -> None:
    org = seed_org(role="issuer_staff")
    created = catalog.create_achievement(
        platform,
        org.actor,
        org_id=org.org_id,
        fields=fields(
            alignment=[
                {
                    "targetName": "Data analysis",
                    "targetUrl": "https://esco.example.org/skill/1",
                    "targetFramework": "ESCO",
                    "targetCode": "S1.2",
                    "targetType": "ceasn:Competency",
                }
            ],
            resultDescription=[{"name": "Score", "resultType": "Percent", "valueMin": "0"}],
            achievementType="MicroCredential",
            creditsAvailable=3,
            fieldOfStudy="Statistics",
            humanCode="DL-101",
            tag=["data", "analysis"],
            inLanguage="en-GB",
            evidenceRequirements=[{"name": "Notebook", "kind": "url"}],
            hours=12.5,
            price={"amount": "49.00", "currency": "EUR"},
        ),
    )
    assert created.status == "draft"
    assert created.published is None
    assert created.current_version is None
    draft = created.draft
    assert draft is not None
    assert draft["id"] == f"https://merito.test/achievements/{created.id}" == created.url
    assert draft["creditsAvailable"] == 3
    assert draft["alignment"][0]["type"] == ["Alignment"]
    assert draft["resultDescription"][0]["id"] == f"{created.url}#result-1"
    # Merito metadata stays out of the OB document
    assert not {"evidenceRequirements", "hours", "price"} & set(draft)
    assert created.draft_metadata == {
        "evidenceRequirements": [
            {"name": "Notebook", "kind": "url", "required": True},
        ],
        "hours": 12.5,
        "price": {"amount": "49.00", "currency": "EUR"},
    }
    with platform.reading() as session, pytest.raises(Conflict, match="not published"):
        catalog.published_version(session, org_id=org.org_id, achievement_id=created.id)

    edited = catalog.update_achievement(
        platform,
        org.actor,
        org_id=org.org_id,
        achievement_id=created.id,
        fields=AchievementFields.model_validate({"name": "Data Literacy I", "hours": None}),
    )
    assert edited.draft is not None
    assert edited.draft["name"] == "Data Literacy I"
    assert edited.draft["alignment"] == draft["alignment"]  # untouched members stay
    assert edited.draft_metadata is not None
    assert "hours" not in edited.draft_metadata

    v1 = catalog.publish_achievement(
        platform, org.actor, org_id=org.org_id, achievement_id=created.id
    )
    assert (v1.status, v1.current_version, v1.draft) == ("published", 1, None)
    assert v1.published is not None
    assert v1.published["version"] == "1"
    # no uploaded image: a generated badge
    image_id = v1.published["image"]["id"]
    assert image_id.startswith("https://merito.test/images/")
    badge = catalog.get_image(platform, image_id.rsplit("/", 1)[1])
    assert badge.media_type == "image/svg+xml"
    assert hashlib.sha256(badge.data).hexdigest() == badge.sha256
    inspect_image(badge.data)
    issuing.parse_achievement(v1.published)

    with platform.reading() as session:
        row = catalog.published_version(session, org_id=org.org_id, achievement_id=created.id)
        assert (row.version, row.document) == (1, v1.published)
        frozen_id = row.id

    with pytest.raises(Conflict, match="no changes"):
        catalog.publish_achievement(
            platform, org.actor, org_id=org.org_id, achievement_id=created.id
        )

    # editing a published achievement: a new draft; version 1 stays the one issued
    changed = catalog.update_achievement(
        platform,
        org.actor,
        org_id=org.org_id,
        achievement_id=created.id,
        fields=AchievementFields.model_validate({"description": "Now with dashboards."}),
    )
    assert changed.status == "published"
    assert changed.current_version == 1
    assert changed.draft is not None
    assert changed.draft["description"] == "Now with dashboards."
    assert changed.published == v1.published
    with platform.reading() as session:
        still = catalog.published_version(session, org_id=org.org_id, achievement_id=created.id)
        assert still.id == frozen_id

    v2 = catalog.publish_achievement(
        platform, org.actor, org_id=org.org_id, achievement_id=created.id
    )
    assert v2.current_version == 2
    assert v2.published is not None
    assert v2.published["description"] == "Now with dashboards."
    assert v2.published["id"] == v1.published["id"]
    with platform.reading() as session:
        versions = session.scalars(
            select(AchievementVersionRow)
            .where(AchievementVersionRow.achievement_id == created.id)
            .order_by(AchievementVersionRow.version)
        ).all()
        assert [v.document["description"] for v in versions] == [
            "Reads, cleans and explains a data set.",
            "Now with dashboards.",
        ]
    assert catalog.public_achievement(platform, created.id)["version"] == "2"
    assert catalog.public_achievement(platform, created.id, version=1) == {
        "@context": catalog.public_achievement(platform, created.id)["@context"],
        **v1.published,
    }
    assert _actions(platform, org.org_id) == [
        "achievement.created",
        "achievement.updated",
        "achievement.published",
        "achievement.updated",
        "achievement.published",
    ]


def test_archive_stops_issuance_but_keeps_the_public_document(
    platform: Platform, seed_org: Seed
) -> None:
    org = seed_org()
    made = catalog.create_achievement(platform, org.actor, org_id=org.org_id, fields=fields())
    catalog.publish_achievement(platform, org.actor, org_id=org.org_id, achievement_id=made.id)
    archived = catalog.archive_achievement(
        platform, org.actor, org_id=org.org_id, achievement_id=made.id
    )
    assert archived.status == "archived"
    assert archived.archived_at is not None
    with platform.reading() as session, pytest.raises(Conflict, match="archived"):
        catalog.published_version(session, org_id=org.org_id, achievement_id=made.id)
    for call in _calls(
        lambda: catalog.archive_achievement(
            platform, org.actor, org_id=org.org_id, achievement_id=made.id
        ),
        lambda: catalog.publish_achievement(
            platform, org.actor, org_id=org.org_id, achievement_id=made.id
        ),
        lambda: catalog.update_achievement(
            platform,
            org.actor,
            org_id=org.org_id,
            achievement_id=made.id,
            fields=AchievementFields(name="x"),
        ),
        lambda: catalog.upload_image(
            platform, org.actor, org_id=org.org_id, achievement_id=made.id, data=png()
        ),
    ):
        with pytest.raises(Conflict):
            call()
    assert catalog.public_achievement(platform, made.id)["name"] == "Data Literacy"


def test_drafts_are_not_public(platform: Platform, seed_org: Seed) -> None:
    org = seed_org()
    made = catalog.create_achievement(platform, org.actor, org_id=org.org_id, fields=fields())
    with pytest.raises(NotFound):
        catalog.public_achievement(platform, made.id)
    with pytest.raises(NotFound):
        catalog.public_achievement(platform, "no-such-id")


def test_list_filters_by_status(platform: Platform, seed_org: Seed, clock: MovableClock) -> None:
    org = seed_org()
    ids = []
    for n in range(3):
        clock.advance(minutes=1)
        made = catalog.create_achievement(
            platform, org.actor, org_id=org.org_id, fields=fields(name=f"Badge {n}")
        )
        ids.append(made.id)
    catalog.publish_achievement(platform, org.actor, org_id=org.org_id, achievement_id=ids[1])
    catalog.archive_achievement(platform, org.actor, org_id=org.org_id, achievement_id=ids[2])
    listed = catalog.list_achievements(platform, org.actor, org_id=org.org_id)
    assert [a.name for a in listed] == ["Badge 2", "Badge 1", "Badge 0"]
    by_status = {
        status: [
            a.id
            for a in catalog.list_achievements(
                platform, org.actor, org_id=org.org_id, status=status
            )
        ]
        for status in ("draft", "published", "archived")
    }
    assert by_status == {"draft": [ids[0]], "published": [ids[1]], "archived": [ids[2]]}
    with pytest.raises(InvalidInput) as caught:
        catalog.list_achievements(platform, org.actor, org_id=org.org_id, status="deleted")
    assert caught.value.property == "status"
    page = catalog.list_achievements(platform, org.actor, org_id=org.org_id, limit=1, offset=1)
    assert [a.id for a in page] == [ids[1]]


def test_uploaded_images_are_content_addressed(platform: Platform, seed_org: Seed) -> None:
    org = seed_org()
    made = catalog.create_achievement(platform, org.actor, org_id=org.org_id, fields=fields())
    data = png()
    view = catalog.upload_image(
        platform, org.actor, org_id=org.org_id, achievement_id=made.id, data=data, caption="Logo"
    )
    sha = hashlib.sha256(data).hexdigest()
    assert view.draft is not None
    assert view.draft["image"] == {
        "id": f"https://merito.test/images/{sha}",
        "type": "Image",
        "caption": "Logo",
    }
    # the same bytes again: stored once
    catalog.upload_image(platform, org.actor, org_id=org.org_id, achievement_id=made.id, data=data)
    with platform.reading() as session:
        assert session.scalar(select(func.count()).select_from(ImageRow)) == 1
    image = catalog.get_image(platform, sha)
    assert (image.media_type, image.data) == ("image/png", data)
    published = catalog.publish_achievement(
        platform, org.actor, org_id=org.org_id, achievement_id=made.id
    )
    assert published.published is not None
    assert published.published["image"]["id"].endswith(sha)  # not replaced by a badge
    removed = catalog.remove_image(platform, org.actor, org_id=org.org_id, achievement_id=made.id)
    assert removed.draft is not None
    assert "image" not in removed.draft
    again = catalog.publish_achievement(
        platform, org.actor, org_id=org.org_id, achievement_id=made.id
    )
    assert again.published is not None
    assert (
        catalog.get_image(platform, again.published["image"]["id"].rsplit("/", 1)[1]).media_type
        == "image/svg+xml"
    )
    assert "achievement.image_set" in _actions(platform, org.org_id)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"GIF89a....", "neither PNG nor SVG"),
        (png(20_000, 20_000, idat=b"x"), "pixels|dimensions|large"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "script"),
        (b"\x89PNG\r\n\x1a\n" + b"0" * 600_000, "limit"),
    ],
)
def test_bad_images_are_refused(
    platform: Platform, seed_org: Seed, data: bytes, match: str
) -> None:
    org = seed_org()
    made = catalog.create_achievement(platform, org.actor, org_id=org.org_id, fields=fields())
    with pytest.raises(InvalidInput, match=match):
        catalog.upload_image(
            platform, org.actor, org_id=org.org_id, achievement_id=made.id, data=data
        )
    with platform.reading() as session:
        assert session.scalar(select(func.count()).select_from(ImageRow)) == 0


def test_unknown_images_are_not_found(platform: Platform) -> None:
    for sha in ("0" * 64, "not-a-digest", "A" * 64):
        with pytest.raises(NotFound):
            catalog.get_image(platform, sha)


@pytest.mark.parametrize(
    ("members", "prop"),
    [
        ({"name": None}, "name"),
        ({"description": "  "}, "description"),
        ({"criteria": {}}, "criteria"),
        ({"criteria": {"id": "not a url"}}, "criteria.id"),
        ({"alignment": [{"targetName": "X", "targetUrl": "ftp://x"}]}, "alignment.0.targetUrl"),
        ({"alignment": [{"targetName": "X"}]}, "alignment.0.targetUrl"),
        (
            {"alignment": [{"targetName": "X", "targetUrl": "https://x.org", "targetType": "Y"}]},
            "alignment.0.targetType",
        ),
        (
            {"resultDescription": [{"name": "S", "resultType": "Vibes"}]},
            "resultDescription.0.resultType",
        ),
        ({"achievementType": "Trophy"}, "achievementType"),
        ({"creditsAvailable": -1}, "creditsAvailable"),
        ({"inLanguage": "english please"}, "inLanguage"),
        ({"price": {"amount": "1e3", "currency": "EUR"}}, "price.amount"),
        ({"price": {"amount": "10", "currency": "eu"}}, "price.currency"),
        ({"hours": -2}, "hours"),
        ({"evidenceRequirements": [{"name": "X", "kind": "dance"}]}, "evidenceRequirements.0.kind"),
        ({"tag": [" "]}, "tag.0"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_validation_names_the_property(
    platform: Platform, seed_org: Seed, members: dict[str, Any], prop: str
) -> None:
    org = seed_org()
    body = {k: v for k, v in {**BASIC, **members}.items() if v is not None}
    with pytest.raises(InvalidInput) as caught:
        # a plain mapping (CLI, imports) is checked like a request body
        catalog.create_achievement(platform, org.actor, org_id=org.org_id, fields=body)
    assert caught.value.property == prop
    assert _actions(platform, org.org_id) == []


def test_an_update_that_breaks_the_document_changes_nothing(
    platform: Platform, seed_org: Seed
) -> None:
    org = seed_org()
    made = catalog.create_achievement(platform, org.actor, org_id=org.org_id, fields=fields())
    with pytest.raises(InvalidInput) as caught:
        catalog.update_achievement(
            platform,
            org.actor,
            org_id=org.org_id,
            achievement_id=made.id,
            fields=AchievementFields.model_validate({"criteria": None}),
        )
    assert caught.value.property == "criteria"
    view = catalog.get_achievement(platform, org.actor, org_id=org.org_id, achievement_id=made.id)
    assert view.draft == made.draft


def test_viewers_read_but_do_not_write(platform: Platform, seed_org: Seed) -> None:
    viewer = seed_org(role="viewer")
    with pytest.raises(PermissionDenied):
        catalog.create_achievement(platform, viewer.actor, org_id=viewer.org_id, fields=fields())
    assert catalog.list_achievements(platform, viewer.actor, org_id=viewer.org_id) == []


def test_another_orgs_achievements_are_not_found(platform: Platform, seed_org: Seed) -> None:
    a, b = seed_org(), seed_org()
    theirs = catalog.create_achievement(platform, b.actor, org_id=b.org_id, fields=fields())
    catalog.publish_achievement(platform, b.actor, org_id=b.org_id, achievement_id=theirs.id)
    # a member of A naming B's organisation
    for call in _calls(
        lambda: catalog.list_achievements(platform, a.actor, org_id=b.org_id),
        lambda: catalog.get_achievement(
            platform, a.actor, org_id=b.org_id, achievement_id=theirs.id
        ),
        lambda: catalog.create_achievement(platform, a.actor, org_id=b.org_id, fields=fields()),
    ):
        with pytest.raises(NotFound):
            call()
    # a member of A naming B's achievement inside A
    for call in _calls(
        lambda: catalog.get_achievement(
            platform, a.actor, org_id=a.org_id, achievement_id=theirs.id
        ),
        lambda: catalog.update_achievement(
            platform,
            a.actor,
            org_id=a.org_id,
            achievement_id=theirs.id,
            fields=AchievementFields(name="Mine"),
        ),
        lambda: catalog.publish_achievement(
            platform, a.actor, org_id=a.org_id, achievement_id=theirs.id
        ),
        lambda: catalog.archive_achievement(
            platform, a.actor, org_id=a.org_id, achievement_id=theirs.id
        ),
        lambda: catalog.upload_image(
            platform, a.actor, org_id=a.org_id, achievement_id=theirs.id, data=png()
        ),
        lambda: catalog.remove_image(platform, a.actor, org_id=a.org_id, achievement_id=theirs.id),
    ):
        with pytest.raises(NotFound):
            call()
    with platform.reading() as session, pytest.raises(NotFound):
        catalog.published_version(session, org_id=a.org_id, achievement_id=theirs.id)
    assert catalog.list_achievements(platform, a.actor, org_id=a.org_id) == []
    assert (
        catalog.get_achievement(platform, b.actor, org_id=b.org_id, achievement_id=theirs.id).status
        == "published"
    )


_member = st.sampled_from(
    [
        "name",
        "description",
        "criteria",
        "alignment",
        "resultDescription",
        "achievementType",
        "creditsAvailable",
        "tag",
        "inLanguage",
        "hours",
        "price",
        "evidenceRequirements",
        "humanCode",
    ]
)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-1e3, 1e3) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(changes=st.dictionaries(_member, _json, max_size=4))
def test_any_input_is_refused_by_name_or_stored_issuable(
    platform: Platform, seed_org: Seed, changes: dict[str, Any]
) -> None:
    org = seed_org()
    body = {k: v for k, v in {**BASIC, **changes}.items() if v is not None}
    try:
        view = catalog.create_achievement(platform, org.actor, org_id=org.org_id, fields=body)
    except InvalidInput as e:
        refused: InvalidInput | None = e
    else:
        refused = None
    if refused is not None:
        assert refused.property, refused.message  # the message names what to fix
        return
    assert view.draft is not None
    issuing.parse_achievement(view.draft)
    published = catalog.publish_achievement(
        platform, org.actor, org_id=org.org_id, achievement_id=view.id
    )
    assert published.published is not None
    issuing.parse_achievement(published.published)
