"""Verifying as the platform: its own credentials verify in full (status included) with no
HTTP, from its database; other URLs go to the guarded fetcher or are refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from merito.config import Settings
from merito.domain.ports import FetchResponse
from merito.domain.verification import Outcome
from merito.errors import FetchError, InvalidInput
from merito.services import demo, platform_verification
from merito.services.platform import Platform
from merito.verification import VerifyOptions

PASSWORD = "correct horse battery staple"


def base(platform: Platform) -> VerifyOptions:
    settings = Settings()
    return VerifyOptions(clock=platform.clock, max_bytes=settings.max_document_bytes, max_depth=64)


def presented(record: Any) -> str:
    return record.jwt if record.jwt is not None else json.dumps(record.document)


class Recorder:
    def __init__(self) -> None:
        self.urls: list[str] = []

    def fetch(self, url: str, *, accept: str = "application/json") -> FetchResponse:
        self.urls.append(url)
        raise FetchError(f"no network in this test: {url}")


def test_own_credentials_verify_in_full_and_a_revoked_one_fails_status(
    platform: Platform,
) -> None:
    seed = demo.seed_demo(platform, password=PASSWORD)
    formats = set()
    for record in seed.credentials:
        report = platform_verification.verify_as_platform(
            platform, presented(record), base(platform)
        )
        status = report.check("status")
        assert status is not None
        formats.add(record.proof_format)
        if record.id == seed.revoked.id:
            assert status.outcome is Outcome.FAIL
            assert not report.verified
        else:
            assert report.verified, report.summary
            assert status.outcome is Outcome.PASS
    assert "vc-jwt" in formats  # both envelopes are covered
    assert len(formats) > 1
    # a changed credential still fails its proof: local documents do not vouch for content
    document = json.loads(json.dumps(next(r.document for r in seed.credentials if r.jwt is None)))
    document["credentialSubject"]["achievement"]["name"] = "Something else"
    report = platform_verification.verify_as_platform(
        platform, json.dumps(document), base(platform)
    )
    proof = report.check("proof")
    assert proof is not None
    assert proof.outcome is Outcome.FAIL


@pytest.mark.parametrize(
    "text",
    ["", "not json", "[1, 2]", '{"issuer": 5}', "a.b.c", "e30.e30.", "{" * 10_000],
)
def test_the_claimed_issuer_of_odd_input_is_none(text: str) -> None:
    assert platform_verification._claimed_issuer(text) is None


def test_the_fetcher_answers_this_platform_and_refuses_or_delegates_the_rest(
    platform: Platform,
) -> None:
    assert platform_verification._hosted_documents(platform, "did:web:evil.example:orgs:x") == {}
    assert platform_verification._hosted_documents(platform, None) == {}
    seed = demo.seed_demo(platform, password=PASSWORD)
    documents = platform_verification._hosted_documents(platform, seed.issuer_did)
    assert list(documents) == [seed.issuer_did]  # one organisation's, not every issuer's
    record = seed.credentials[0]
    fetcher = platform_verification.PlatformFetcher(platform, None)
    own = fetcher.fetch(record.credential_id)
    assert own.status == 200
    missing = fetcher.fetch(platform.url("/credentials/00000000-0000-0000-0000-000000000000"))
    assert missing.status == 404
    assert fetcher.fetch(platform.url("/status/" + "x" * 40)).status == 404
    with pytest.raises(FetchError, match="does not fetch other sites"):
        fetcher.fetch("https://elsewhere.example/credential.json")
    recorder = Recorder()
    delegating = platform_verification.PlatformFetcher(platform, recorder)
    with pytest.raises(FetchError):
        delegating.fetch("https://elsewhere.example/c")
    assert recorder.urls == ["https://elsewhere.example/c"]
    body = platform_verification.fetch_credential(
        platform, record.credential_id, max_bytes=1_000_000
    )
    assert body == own.body
    with pytest.raises(InvalidInput):
        platform_verification.fetch_credential(platform, "file:///etc/passwd", max_bytes=10)
    with pytest.raises(FetchError, match="HTTP 404"):
        platform_verification.fetch_credential(
            platform, platform.url("/credentials/nope"), max_bytes=10
        )
