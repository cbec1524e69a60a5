"""Assessment through the composed app (no JavaScript): the studio sets a rubric with the
text editor and opens the achievement; a learner applies with a file upload and a link and
submits; the owner reviews with the rubric form and the credential is issued; claim codes
with their QR; the public claim-by-code pages. Wrong input stays on the page with a message."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from web_support import BASE, Browser, demo_site

from merito.asgi import create_app
from merito.config import Settings
from merito.services import demo
from merito.services.platform import Platform
from merito.storage.blobs import LocalBlobStore
from merito.storage.tables import OutboxRow
from merito.web.assessment_page import parse_rubric_text, rubric_text

RUBRIC = (
    "# Analysis\n0 | Novice | Restates\n2 | Expert | Explains the trend\n\n"
    "# Clarity\n0 | Unclear\n1 | Clear\n"
)


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[tuple[Any, demo.DemoSeed, Platform]]:
    folder = tmp_path_factory.mktemp("assessment")
    with demo_site(folder, sqlite_template) as (_, seed, platform):
        platform = dataclasses.replace(
            platform, extras={"evidence_store": LocalBlobStore(folder / "evidence")}
        )
        yield create_app(settings=Settings(base_url=BASE), platform=platform), seed, platform


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None
    return match.group(1)


def test_rubric_text_round_trips() -> None:
    parsed = parse_rubric_text(RUBRIC)
    assert [c["name"] for c in parsed["criteria"]] == ["Analysis", "Clarity"]
    assert parsed["criteria"][0]["levels"][1] == {
        "name": "Expert",
        "points": 2.0,
        "description": "Explains the trend",
    }
    assert parse_rubric_text(rubric_text(parsed)) == parsed
    with pytest.raises(Exception, match="line 1"):
        parse_rubric_text("2 | Level without a criterion")


def test_apply_review_award_and_claim_by_code(site: tuple[Any, demo.DemoSeed, Platform]) -> None:
    app, seed, platform = site
    achievement = seed.achievements[0].id
    owner = Browser(app)
    owner.log_in(seed.owner_email)
    studio = f"/studio/{seed.org_slug}"
    setup = owner.get(f"{studio}/assessment/achievements/{achievement}")
    assert setup.status_code == 200
    assert '<label for="rubric">' in setup.text
    fields = {
        "csrf_token": _token(setup.text),
        "open": "on",
        "rubric": "# Analysis\n2 | Expert\n",  # one level only: refused, kept on the page
        "rule": "all_agree",
        "reviews_required": "1",
        "min_score": "0",
        "sla_hours": "48",
        "max_file_mb": "1",
        "allowed_types": "application/pdf, text/plain",
    }
    refused = owner.post(f"{studio}/assessment/achievements/{achievement}", data=fields)
    assert refused.status_code == 422
    assert "2 to 10 levels" in refused.text
    assert "# Analysis" in refused.text
    saved = owner.post(
        f"{studio}/assessment/achievements/{achievement}", data={**fields, "rubric": RUBRIC}
    )
    assert saved.status_code == 303, saved.text

    learner = Browser(app)
    learner.log_in(seed.learners[0])
    listing = learner.get("/wallet/applications")
    assert listing.status_code == 200
    assert "Open for application" in listing.text
    applied = learner.post(
        "/wallet/applications",
        data={"csrf_token": _token(listing.text), "achievement_id": achievement},
    )
    assert applied.status_code == 303
    page_url = applied.headers["location"]
    page = learner.get(page_url)
    token = _token(page.text)
    too_big = learner.post(
        page_url,
        data={"csrf_token": token, "action": "file", "name": ""},
        files={"file": ("big.pdf", b"%PDF-" + b"x" * 1_000_001, "application/pdf")},
    )
    assert too_big.status_code == 422
    assert "at most 1,000,000" in too_big.text
    uploaded = learner.post(
        page_url,
        data={"csrf_token": token, "action": "file", "name": "My analysis"},
        files={"file": ("analysis.pdf", b"%PDF-1.4\n% work\n", "application/pdf")},
    )
    assert uploaded.status_code == 303, uploaded.text
    linked = learner.post(
        page_url,
        data={
            "csrf_token": token,
            "action": "url",
            "name": "Notebook",
            "url": "https://nb.example.org/x",
        },
    )
    assert linked.status_code == 303
    submitted = learner.post(page_url, data={"csrf_token": token, "action": "submit"})
    assert submitted.status_code == 303
    assert "Your application is submitted" in learner.get(submitted.headers["location"]).text

    queue = owner.get(f"{studio}/assessment")
    assert queue.status_code == 200
    assert seed.learners[0] in queue.text
    application_id = page_url.rsplit("/", 1)[1]
    review_url = f"{studio}/assessment/applications/{application_id}"
    form = owner.get(review_url)
    assert 'name="score-c1"' in form.text
    assert "Explains the trend" in form.text
    token = _token(form.text)
    missing = owner.post(
        review_url, data={"csrf_token": token, "decision": "award", "score-c1": "l2"}
    )
    assert missing.status_code == 422
    assert "Clarity" in missing.text
    done = owner.post(
        review_url,
        data={"csrf_token": token, "decision": "award", "score-c1": "l2", "score-c2": "l2"},
    )
    assert done.status_code == 303, done.text
    assert "The application is awarded" in owner.get(done.headers["location"]).text
    assert "See the credential" in learner.get(page_url).text

    codes = owner.get(f"{studio}/claim-codes")
    created = owner.post(
        f"{studio}/claim-codes",
        data={
            "csrf_token": _token(codes.text),
            "achievement_id": achievement,
            "label": "Open day",
            "max_uses": "2",
        },
    )
    assert created.status_code == 303
    listing = owner.get(created.headers["location"])
    code = re.search(r"<code>([A-Z2-9]{10})</code>", listing.text)
    assert code is not None
    qr = re.search(r'src="([^"]+/qr\.svg)"', listing.text)
    assert qr is not None
    assert owner.get(qr.group(1)).text.lstrip().startswith("<?xml")

    visitor = Browser(app)
    claim = visitor.get(f"/claim-code/{code.group(1)}")
    assert claim.status_code == 200
    assert "Claim" in claim.text
    sent = visitor.post(
        f"/claim-code/{code.group(1)}",
        data={"csrf_token": _token(claim.text), "email": "visitor@example.org"},
    )
    assert sent.status_code == 200
    assert "We sent a link to visitor@example.org" in sent.text
    with platform.reading() as session:
        text = session.scalars(
            select(OutboxRow.payload).where(OutboxRow.topic == "email.claim_code")
        ).one()["text"]
    link = re.search(r"https://merito\.test(/claim-code/\S+)", text)
    assert link is not None
    confirm = visitor.get(link.group(1))
    assert "Claim the credential" in confirm.text  # a GET changes nothing
    claimed = visitor.post(
        f"/claim-code/{code.group(1)}/confirm",
        data={"csrf_token": _token(confirm.text), "token": link.group(1).split("token=")[1]},
    )
    assert claimed.status_code == 200
    assert "issued to visitor@example.org" in claimed.text
    fr = visitor.get(f"/claim-code/{code.group(1)}", headers={"Accept-Language": "fr"})
    assert "Réclamer" in fr.text
    # guessing codes from one connection ends on a clear 429 page, even for the real code
    pages = {visitor.get(f"/claim-code/GUESS{chr(65 + n)}").status_code for n in range(20)}
    assert pages == {404}  # claim_codes.FAILED_PER_IP unknown codes: each a plain 404
    limited = visitor.get(f"/claim-code/{code.group(1)}")
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert "Too many unknown claim codes or links" in limited.text
    assert "Email me the claim link" not in limited.text  # nothing about the code shows
