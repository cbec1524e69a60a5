"""OB 2.0 and Blockcerts reports without a database: the fixtures' dates, hosted copies and
Merkle receipts each fail the check they concern, and check ids follow the pipeline's order."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from merito.domain.ports import FetchResponse
from merito.domain.verification import CHECK_IDS
from merito.errors import FetchError
from merito.verification.blockcerts import OFFLINE_ANCHOR, verify_blockcerts
from merito.verification.ob2 import verify_ob2

FIXTURES = Path(__file__).parents[2] / "fixtures"
OB2 = FIXTURES / "ob2-examples/validator-ob20"
V2 = FIXTURES / "blockcerts/cert-verifier-js/fixtures/v2"


class Clock:
    def __init__(self, instant: datetime) -> None:
        self.instant = instant

    def now(self) -> datetime:
        return self.instant


NOW = Clock(datetime(2026, 1, 1, tzinfo=UTC))


class Served:
    """The validator's assets at example.org; the assertion under test at its own id."""

    def __init__(self, assertion: bytes) -> None:
        self.assertion = assertion

    def fetch(self, url: str, *, accept: str = "application/json") -> FetchResponse:
        if url == json.loads(self.assertion)["id"]:
            return FetchResponse(status=200, body=self.assertion, url=url)
        path = OB2 / "assets" / url.rsplit("/", 1)[-1]
        if not path.is_file():
            raise FetchError(f"fetching {url} failed: HTTP 404 Not Found")
        return FetchResponse(status=200, body=path.read_bytes(), url=url)


def outcomes(report: object) -> dict[str, str]:
    return {c.id: c.outcome.value for c in report.checks}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "failed", "words"),
    [
        ("basic-assertion.json", None, None),
        ("basic-assertion-expired.json", "validity", "expired"),
        ("basic-assertion-in-future.json", "validity", "future"),
        ("basic-assertion-invalid-type.json", "format", "Assertion"),
        ("basic-assertion-with-allowed-origins.json", None, None),
        ("basic-assertion-with-allowed-origins-invalid-starts-with.json", "issuer", "prefixes"),
    ],
)
def test_hosted_fixtures(name: str, failed: str | None, words: str | None) -> None:
    data = (OB2 / name).read_bytes()
    report = verify_ob2(json.loads(data), fetcher=Served(data), clock=NOW)
    checks = [c.id for c in report.checks]
    assert checks == [c for c in CHECK_IDS if c in checks]
    if failed is None:
        assert report.verified, report.summary
        return
    assert outcomes(report)[failed] == "fail"
    assert words is not None
    assert words in report.failures[0].message
    later = checks[checks.index(failed) + 1 :]
    assert all(outcomes(report)[c] == "skipped" for c in later)


def test_a_signed_assertion_given_as_json_has_no_signature() -> None:
    jwt = (OB2 / "simple.jwt").read_text().strip()
    report = verify_ob2(jwt, fetcher=Served(b'{"id": "-"}'), clock=NOW)
    assert report.verified, report.summary
    assert report.envelope == "jws"
    payload = json.loads(json.dumps(report.credential))
    payload["badge"] = payload["badge"]["id"]
    as_json = verify_ob2(payload, fetcher=Served(b'{"id": "-"}'), clock=NOW)
    assert outcomes(as_json)["proof"] == "fail"
    assert "JWS" in as_json.failures[0].message


def test_blockcerts_v2_receipt_checks() -> None:
    document = json.loads((V2 / "mocknet-valid-2.0.json").read_text())
    report = verify_blockcerts(document, clock=NOW)
    assert report.verified
    anchored = report.check("anchored")
    assert anchored is not None
    assert anchored.details["reason"] == OFFLINE_ANCHOR
    broken_path = json.loads(json.dumps(document))
    broken_path["signature"]["proof"][0]["right"] = "00" * 32
    assert "merkleRoot" in verify_blockcerts(broken_path, clock=NOW).failures[0].message
    expired = {**document, "expires": "2025-01-01T00:00:00Z"}
    # a changed field changes the hash before the dates are read: the proof check catches it
    assert outcomes(verify_blockcerts(expired, clock=NOW))["proof"] == "fail"
    not_blockcerts = verify_blockcerts({"@context": "https://w3id.org/openbadges/v2"}, clock=NOW)
    assert outcomes(not_blockcerts)["format"] == "fail"
