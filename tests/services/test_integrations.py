"""Integrations end to end through the services, on SQLite and PostgreSQL.

Inbound webhooks (signature, replay, rotation, rules), xAPI statements (validation, rules,
same id once, 409 on different content), LTI 1.3 launches from a simulated platform (an RSA
key and its JWKS, signed id_tokens) and outgoing webhooks delivered to a local HTTP server
through the SSRF-guarded poster, with retries, the delivery log and a manual redelivery.
Every inbound path is sent twice and must award once.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from services_support import MovableClock, SeededOrg

from lti_simulator import SimulatedPlatform, b64
from merito.domain import integrations as rules_
from merito.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unauthenticated
from merito.net.webhook_sender import GuardedPoster
from merito.services import catalog, credentials, integrations, lti, outbox, webhooks_out
from merito.services.platform import Platform
from merito.storage.tables import CredentialRow
from merito.storage.tables_integrations import InboundEventRow, XapiStatementRow

Seed = Callable[..., SeededOrg]
COMPLETED = rules_.XAPI_VERBS["completed"]


def publish(platform: Platform, org: SeededOrg, name: str = "Course badge") -> str:
    made = catalog.create_achievement(
        platform,
        org.actor,
        org_id=org.org_id,
        fields={"name": name, "description": f"{name}.", "criteria": {"narrative": "Done."}},
    )
    catalog.publish_achievement(platform, org.actor, org_id=org.org_id, achievement_id=made.id)
    return made.id


def credential_count(platform: Platform, org_id: str) -> int:
    with platform.reading() as session:
        return len(session.query(CredentialRow).filter_by(org_id=org_id).all())


# --- inbound webhooks ----------------------------------------------------------------------------


def signed(
    secret: str, body: dict[str, Any], *, msg_id: str, at: float
) -> tuple[dict[str, str], bytes]:
    raw = json.dumps(body).encode()
    stamp = int(at)
    signature = rules_.sign_webhook(
        rules_.decode_secret(secret), msg_id=msg_id, timestamp=stamp, body=raw
    )
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature,
    }
    return headers, raw


def event(kind: str = "course.completed", score: float | None = 0.9) -> dict[str, Any]:
    data: dict[str, Any] = {"learner": {"email": "Learner@Example.org"}, "course_id": "c-101"}
    if score is not None:
        data["score"] = score
    return {"type": kind, "data": data}


def test_inbound_webhook_awards_once_and_checks_signature_time_and_rotation(
    platform: Platform, seed_org: Seed, clock: MovableClock
) -> None:
    org = seed_org()
    badge = publish(platform, org)
    made = integrations.create_endpoint(platform, org.actor, org_id=org.org_id, name="LMS")
    endpoint = made.endpoint.id
    integrations.create_rule(
        platform,
        org.actor,
        org_id=org.org_id,
        fields=integrations.RuleFields(
            source="webhook",
            source_id=endpoint,
            trigger="course.completed",
            activity_id="c-101",
            min_score=0.8,
            achievement_id=badge,
        ),
    )
    now = clock.now().timestamp()
    headers, body = signed(made.secret, event(), msg_id="evt-1", at=now)
    first = integrations.receive_webhook(platform, endpoint_id=endpoint, headers=headers, body=body)
    assert first.status == "awarded"
    assert len(first.credential_ids) == 1
    assert first.created
    again = integrations.receive_webhook(platform, endpoint_id=endpoint, headers=headers, body=body)
    assert not again.created
    assert again.credential_ids == first.credential_ids
    assert credential_count(platform, org.org_id) == 1
    low_h, low_b = signed(made.secret, event(score=0.5), msg_id="evt-2", at=now)
    low = integrations.receive_webhook(platform, endpoint_id=endpoint, headers=low_h, body=low_b)
    assert low.status == "unmatched"
    assert low.credential_ids == ()
    other_h, other_b = signed(made.secret, event("forum.posted"), msg_id="evt-3", at=now)
    other = integrations.receive_webhook(
        platform, endpoint_id=endpoint, headers=other_h, body=other_b
    )
    assert other.status == "unmatched"
    with platform.reading() as session:
        stored = session.query(InboundEventRow).filter_by(endpoint_id=endpoint).count()
    assert stored == 3
    assert credential_count(platform, org.org_id) == 1

    tampered = {**headers, "webhook-id": "evt-9"}
    with pytest.raises(Unauthenticated, match="no webhook-signature matches"):
        integrations.receive_webhook(platform, endpoint_id=endpoint, headers=tampered, body=body)
    stale_h, stale_b = signed(made.secret, event(), msg_id="evt-old", at=now - 301)
    with pytest.raises(Unauthenticated, match="more than 300 seconds"):
        integrations.receive_webhook(platform, endpoint_id=endpoint, headers=stale_h, body=stale_b)
    with pytest.raises(Unauthenticated, match="webhook-signature header is missing"):
        integrations.receive_webhook(
            platform,
            endpoint_id=endpoint,
            headers={"webhook-id": "x", "webhook-timestamp": "1"},
            body=b"{}",
        )
    bad_h, bad_b = signed(made.secret, {"data": {}}, msg_id="evt-bad", at=now)
    with pytest.raises(InvalidInput, match="'type'"):
        integrations.receive_webhook(platform, endpoint_id=endpoint, headers=bad_h, body=bad_b)

    rotated = integrations.rotate_endpoint_secret(
        platform, org.actor, org_id=org.org_id, endpoint_id=endpoint
    )
    assert rotated.secret != made.secret
    assert rotated.endpoint.previous_secret_until is not None
    old_h, old_b = signed(made.secret, event(), msg_id="evt-4", at=now)
    assert (
        integrations.receive_webhook(
            platform, endpoint_id=endpoint, headers=old_h, body=old_b
        ).status
        == "awarded"
    )
    clock.advance(hours=25)
    later = clock.now().timestamp()
    old_h, old_b = signed(made.secret, event(), msg_id="evt-5", at=later)
    with pytest.raises(Unauthenticated):
        integrations.receive_webhook(platform, endpoint_id=endpoint, headers=old_h, body=old_b)
    new_h, new_b = signed(rotated.secret, event(), msg_id="evt-5", at=later)
    assert (
        integrations.receive_webhook(
            platform, endpoint_id=endpoint, headers=new_h, body=new_b
        ).status
        == "awarded"
    )
    assert credential_count(platform, org.org_id) == 1  # events 4 and 5: the same learner
    integrations.set_endpoint_enabled(
        platform, org.actor, org_id=org.org_id, endpoint_id=endpoint, enabled=False
    )
    with pytest.raises(NotFound):
        integrations.receive_webhook(platform, endpoint_id=endpoint, headers=new_h, body=new_b)


def test_management_is_tenant_scoped_and_needs_the_permission(
    platform: Platform, seed_org: Seed
) -> None:
    org, other = seed_org(), seed_org()
    staff = seed_org(role="issuer_staff")
    badge = publish(platform, org)
    with pytest.raises(NotFound):
        integrations.create_endpoint(platform, other.actor, org_id=org.org_id, name="x")
    with pytest.raises(PermissionDenied):
        integrations.list_rules(platform, staff.actor, org_id=staff.org_id)
    with pytest.raises(NotFound, match="achievement"):
        integrations.create_rule(
            platform,
            other.actor,
            org_id=other.org_id,
            fields=integrations.RuleFields(source="webhook", trigger="t", achievement_id=badge),
        )
    with pytest.raises(InvalidInput, match="verb IRI"):
        integrations.create_rule(
            platform,
            org.actor,
            org_id=org.org_id,
            fields=integrations.RuleFields(source="xapi", trigger="finished", achievement_id=badge),
        )


# --- xAPI ----------------------------------------------------------------------------------------


def statement(activity: str, *, scaled: float = 0.9, sid: str | None = None) -> dict[str, Any]:
    return {
        "id": sid or str(uuid.uuid4()),
        "actor": {"mbox": "mailto:learner@example.org", "objectType": "Agent"},
        "verb": {"id": COMPLETED, "display": {"en-US": "completed"}},
        "object": {"id": activity, "objectType": "Activity"},
        "result": {"score": {"scaled": scaled}, "completion": True},
    }


def test_xapi_statements_award_once_store_unknown_and_refuse_a_changed_id(
    platform: Platform, seed_org: Seed
) -> None:
    org = seed_org()
    badge = publish(platform, org)
    made = integrations.create_xapi_client(platform, org.actor, org_id=org.org_id, name="LRS")
    integrations.create_rule(
        platform,
        org.actor,
        org_id=org.org_id,
        fields=integrations.RuleFields(
            source="xapi",
            trigger="completed",
            activity_id="https://lms.example/course/1",
            min_score=0.8,
            achievement_id=badge,
        ),
    )
    with pytest.raises(Unauthenticated):
        integrations.xapi_client(platform, key=made.client.key, secret="wrong")
    who = integrations.xapi_client(platform, key=made.client.key, secret=made.secret)
    one = statement("https://lms.example/course/1")
    body = json.dumps(one).encode()
    (first,) = integrations.record_statements(platform, who, body=body)
    assert first.status == "awarded"
    assert first.created
    assert len(first.credential_ids) == 1
    (again,) = integrations.record_statements(platform, who, body=body)
    assert not again.created
    assert again.credential_ids == first.credential_ids
    assert credential_count(platform, org.org_id) == 1

    changed = {**one, "result": {"score": {"scaled": 0.95}}}
    with pytest.raises(Conflict, match="other content"):
        integrations.record_statements(platform, who, body=json.dumps(changed).encode())
    fresh = statement("https://lms.example/course/1")
    with pytest.raises(Conflict):
        integrations.record_statements(platform, who, body=json.dumps([fresh, changed]).encode())
    assert integrations.record_statements(platform, who, body=json.dumps(fresh).encode())[0].created
    batch = [
        statement("https://lms.example/unknown"),
        statement("https://lms.example/course/1", scaled=0.5),
    ]
    results = integrations.record_statements(platform, who, body=json.dumps(batch).encode())
    assert [r.status for r in results] == ["unmatched", "unmatched"]
    assert credential_count(platform, org.org_id) == 1  # the same learner again: no new badge
    with platform.reading() as session:
        assert session.query(XapiStatementRow).filter_by(org_id=org.org_id).count() == 4
    assert credential_count(platform, org.org_id) == 1
    stored = integrations.get_statement(platform, who, statement_id=one["id"])
    assert stored["verb"]["id"] == COMPLETED
    assert "stored" in stored

    for broken, where in (
        ({**one, "id": "nope"}, "statement.id"),
        ({**one, "actor": {"name": "x"}}, "statement.actor"),
        ({**one, "verb": {"id": "not an iri"}}, "statement.verb.id"),
        ({**one, "result": {"score": {"scaled": 2}}}, "statement.result.score.scaled"),
    ):
        with pytest.raises(InvalidInput) as caught:
            integrations.record_statements(platform, who, body=json.dumps(broken).encode())
        assert caught.value.property == where
    with pytest.raises(InvalidInput, match="not JSON"):
        integrations.record_statements(platform, who, body=b"{")


# --- LTI 1.3 -------------------------------------------------------------------------------------


def start(platform: Platform, sim: SimulatedPlatform) -> tuple[str, str]:
    redirect = lti.login(
        platform,
        {
            "iss": sim.issuer,
            "login_hint": "u7",
            "target_link_uri": "https://merito.test/lti/launch",
        },
    )
    query = parse_qs(urlsplit(redirect.url).query)
    assert redirect.url.startswith("https://lms.example/auth?")
    assert query["response_type"] == ["id_token"]
    assert query["client_id"] == [sim.client_id]
    assert query["redirect_uri"] == ["https://merito.test/lti/launch"]
    return query["state"][0], query["nonce"][0]


def test_lti_launch_validates_the_id_token_and_awards_once(
    platform: Platform, seed_org: Seed, clock: MovableClock
) -> None:
    sim = SimulatedPlatform()
    platform = dataclasses.replace(platform, fetcher=sim)
    org = seed_org()
    badge = publish(platform, org, "Week 1 badge")
    registered = lti.register_platform(
        platform,
        org.actor,
        org_id=org.org_id,
        fields=lti.PlatformFields(
            name="Moodle",
            issuer=sim.issuer,
            client_id=sim.client_id,
            deployment_ids=["dep-1"],
            auth_login_url="https://lms.example/auth",
            jwks_url="https://lms.example/jwks",
        ),
    )
    integrations.create_rule(
        platform,
        org.actor,
        org_id=org.org_id,
        fields=integrations.RuleFields(
            source="lti",
            source_id=registered.id,
            trigger="lti.launch",
            activity_id="link-1",
            achievement_id=badge,
        ),
    )
    state, nonce = start(platform, sim)
    token = sim.id_token(clock, nonce)
    shown = lti.launch(platform, id_token=token, state=state)
    assert [(b.name, b.description) for b in shown.badges] == [("Week 1 badge", "Week 1 badge.")]
    assert len(shown.credential_ids) == 1
    assert not shown.instructor
    assert shown.award_token is None
    with pytest.raises(Unauthenticated, match="state"):
        lti.launch(platform, id_token=token, state=state)  # the state is single-use
    state2, _ = start(platform, sim)
    with pytest.raises(Unauthenticated, match="nonce"):
        lti.launch(platform, id_token=token, state=state2)  # an old id_token, a new login
    state3, nonce3 = start(platform, sim)
    again = lti.launch(platform, id_token=sim.id_token(clock, nonce3), state=state3)
    assert again.credential_ids == shown.credential_ids  # launched twice: awarded once
    assert credential_count(platform, org.org_id) == 1
    assert sim.fetches == 1  # the JWKS was cached

    for claims, problem in (
        ({"aud": "someone-else"}, "aud"),
        ({"exp": int(clock.now().timestamp()) - 3600}, "exp"),
        ({rules_.LTI_CLAIM + "deployment_id": "dep-x"}, "deployment_id"),
        ({rules_.LTI_CLAIM + "message_type": "LtiDeepLinkingRequest"}, "message_type"),
    ):
        s, n = start(platform, sim)
        with pytest.raises(Unauthenticated) as caught:
            lti.launch(platform, id_token=sim.id_token(clock, n, **claims), state=s)
        assert caught.value.property == problem
    s, n = start(platform, sim)
    forged = sim.id_token(clock, n)
    head, body, _ = forged.split(".")
    with pytest.raises(Unauthenticated, match="signature"):
        lti.launch(platform, id_token=f"{head}.{body}.{b64(b'x' * 256)}", state=s)

    s, n = start(platform, sim)
    teacher = lti.launch(
        platform,
        id_token=sim.id_token(
            clock,
            n,
            sub="teacher-1",
            **{
                rules_.LTI_CLAIM + "roles": [
                    "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
                ],
                rules_.LTI_CLAIM + "custom": {},
            },
        ),
        state=s,
    )
    assert teacher.instructor
    assert teacher.award_token
    assert teacher.credential_ids == ()
    first = lti.award_learner(
        platform, token=teacher.award_token, achievement_id=badge, email="other@example.org"
    )
    second = lti.award_learner(
        platform, token=teacher.award_token, achievement_id=badge, email="other@example.org"
    )
    assert first == second
    assert credential_count(platform, org.org_id) == 2
    same = lti.award_learner(
        platform, token=teacher.award_token, achievement_id=badge, email="student@example.org"
    )
    assert (same,) == shown.credential_ids  # the learner's own launch already earned it
    with pytest.raises(Unauthenticated):
        lti.award_learner(platform, token="forged", achievement_id=badge, email="x@example.org")
    clock.advance(hours=2)
    with pytest.raises(Unauthenticated, match="expired"):
        lti.award_learner(
            platform, token=teacher.award_token, achievement_id=badge, email="y@example.org"
        )


# --- outgoing webhooks ---------------------------------------------------------------------------


class Receiver:
    """A local HTTP server answering with the queued statuses (then 200), keeping requests."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([500])
    yield r
    r.close()


def run_outbox(platform: Platform) -> outbox.DeliveryStats:
    return outbox.deliver_due(platform, worker_id="test", rng=__import__("random").Random(1))


def test_outgoing_webhooks_are_signed_retried_logged_and_redelivered(
    platform: Platform, seed_org: Seed, clock: MovableClock, receiver: Receiver
) -> None:
    clock.instant = datetime.now(UTC)  # the issuance's outbox rows are due by the wall clock
    poster = GuardedPoster(allowed_hosts=frozenset({"127.0.0.1"}), timeout=2.0)
    platform = dataclasses.replace(platform, extras={**platform.extras, "webhook_poster": poster})
    org = seed_org()
    badge = publish(platform, org)
    created = webhooks_out.create_subscription(
        platform,
        org.actor,
        org_id=org.org_id,
        fields=webhooks_out.SubscriptionFields(url=receiver.url, events=["credential.*"]),
    )
    sub = created.subscription
    with pytest.raises(InvalidInput, match="unknown event"):
        webhooks_out.create_subscription(
            platform,
            org.actor,
            org_id=org.org_id,
            fields=webhooks_out.SubscriptionFields(url=receiver.url, events=["course.done"]),
        )
    record = credentials.issue_credential(
        platform, org.actor, org_id=org.org_id, achievement_id=badge, recipient="a@example.org"
    )
    run_outbox(platform)  # webhook.credential.issued -> one delivery.webhook message
    # the same domain event again (a redelivered message) fans out to nothing new
    webhooks_out.on_event(
        platform,
        {
            "event": "credential.issued",
            "org_id": org.org_id,
            "credential_row_id": record.id,
            "credential_id": record.credential_id,
            "achievement_id": badge,
            "achievement_version": record.achievement_version,
            "proof_format": record.proof_format,
            "issued_at": record.issued_at.isoformat(),
        },
    )
    (delivery,) = webhooks_out.list_deliveries(platform, org.actor, org_id=org.org_id)
    assert delivery.state == "pending"
    assert delivery.event_type == "credential.issued"
    run_outbox(platform)  # first POST: the receiver answers 500
    failed = webhooks_out.get_delivery(
        platform, org.actor, org_id=org.org_id, delivery_id=delivery.id
    )
    assert failed.state == "pending"
    assert failed.attempts == 1
    assert failed.last_status == 500
    assert failed.next_retry_at is not None
    assert failed.next_retry_at > clock.now()
    assert failed.history[0].error
    assert "HTTP 500" in failed.history[0].error
    with pytest.raises(Conflict, match="still queued"):
        webhooks_out.redeliver(platform, org.actor, org_id=org.org_id, delivery_id=delivery.id)
    clock.advance(minutes=5)
    run_outbox(platform)
    done = webhooks_out.get_delivery(
        platform, org.actor, org_id=org.org_id, delivery_id=delivery.id
    )
    assert done.state == "delivered"
    assert done.attempts == 2
    assert done.last_status == 200
    assert len(receiver.requests) == 2

    headers, body = receiver.requests[-1]
    secret = rules_.decode_secret(created.secret)
    msg_id, _ = rules_.verify_webhook([secret], headers=headers, body=body, now=clock.now())
    assert msg_id == delivery.id
    sent = json.loads(body)
    assert sent["type"] == "credential.issued"
    assert sent["data"]["credential_id"] == record.credential_id

    again = webhooks_out.redeliver(platform, org.actor, org_id=org.org_id, delivery_id=delivery.id)
    assert again.state == "pending"
    run_outbox(platform)
    assert len(receiver.requests) == 3
    assert receiver.requests[-1][0]["webhook-id"] == delivery.id

    credentials.revoke(
        platform, org.actor, org_id=org.org_id, credential_id=record.id, reason="mistake"
    )
    webhooks_out.update_subscription(
        platform,
        org.actor,
        org_id=org.org_id,
        subscription_id=sub.id,
        fields=webhooks_out.SubscriptionFields(events=["credential.issued"]),
    )
    run_outbox(platform)
    assert [
        d.event_type for d in webhooks_out.list_deliveries(platform, org.actor, org_id=org.org_id)
    ] == ["credential.issued"]


def test_the_poster_refuses_loopback_unless_allowed(receiver: Receiver) -> None:
    from merito.errors import FetchError

    with pytest.raises(FetchError, match="loopback"):
        GuardedPoster().post(receiver.url, body=b"{}", headers={})
    started = time.monotonic()
    answer = GuardedPoster(allow_private=True, timeout=2.0).post(
        receiver.url, body=b"{}", headers={"Content-Type": "application/json"}
    )
    assert answer.status == 500
    assert time.monotonic() - started < 2


def test_the_same_event_sent_concurrently_awards_once(
    platform: Platform, seed_org: Seed, clock: MovableClock
) -> None:
    org = seed_org()
    badge = publish(platform, org)
    made = integrations.create_endpoint(platform, org.actor, org_id=org.org_id, name="LMS")
    integrations.create_rule(
        platform,
        org.actor,
        org_id=org.org_id,
        fields=integrations.RuleFields(
            source="webhook", trigger="course.completed", achievement_id=badge
        ),
    )
    headers, body = signed(made.secret, event(), msg_id="evt-race", at=clock.now().timestamp())
    barrier = threading.Barrier(4)
    results: list[Any] = []

    def send() -> None:
        barrier.wait()
        try:
            results.append(
                integrations.receive_webhook(
                    platform, endpoint_id=made.endpoint.id, headers=headers, body=body
                )
            )
        except Exception as e:  # collected: the assertion below names it
            results.append(e)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    ids = {tuple(r.credential_ids) for r in results if not isinstance(r, Exception)}
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors
    assert len(ids) == 1
    assert credential_count(platform, org.org_id) == 1
