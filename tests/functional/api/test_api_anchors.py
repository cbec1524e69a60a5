"""``GET /log/v1/anchors``: public, filtered and paged; no operator detail leaks; bad
parameters are problem JSON."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asgi_client import ApiClient

from merito import bootstrap
from merito.api.app import create_app
from merito.config import Settings
from merito.services.platform import Platform
from merito.storage.tables_anchoring import ChainAnchorRow

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
AT_JSON = "2026-03-01T12:00:00Z"


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[tuple[Platform, ApiClient]]:
    settings = Settings(data_dir=tmp_path, database_url=database_url, master_key="22" * 32)
    platform = bootstrap.platform(settings)
    try:
        yield platform, ApiClient(create_app(settings=settings, platform=platform))
    finally:
        platform.sessions.kw["bind"].dispose()


def _put(platform: Platform, batch_id: str, status: str, n: int) -> None:
    confirmed = status == "confirmed"
    tx = "0x" + f"{n:02x}" * 32
    with platform.transaction() as session:
        session.add(
            ChainAnchorRow(
                batch_id=batch_id,
                merkle_root=f"{n:02x}" * 32,
                tree_size=10 * n,
                leaf_count=n,
                status=status,
                chain_id=31337,
                sender="0x" + "aa" * 20,
                nonce=n,
                tx_hash=tx,
                raw_tx="0xf8" + "00" * 40,
                submitted_at=AT,
                block_number=100 + n if confirmed else None,
                confirmations=2 if confirmed else 0,
                confirmed_at=AT if confirmed else None,
                anchor_uri=f"blink:eth:31337:{tx}" if confirmed else None,
                attempts=1,
                last_error=None if confirmed else "http://node.internal:8545 is unreachable",
                created_at=AT,
                updated_at=AT,
            )
        )


def test_anchors_are_listed_newest_first_filtered_and_paged(
    world: tuple[Platform, ApiClient],
) -> None:
    platform, client = world
    _put(platform, "b1", "confirmed", 1)
    _put(platform, "b2", "submitted", 2)
    _put(platform, "b3", "confirmed", 3)
    response = client.get("/log/v1/anchors")  # no credentials: the log is public
    assert response.status_code == 200, response.text
    body = response.json()
    assert [a["batch_id"] for a in body["items"]] == ["b3", "b2", "b1"]
    assert body["next_before"] is None
    first = body["items"][2]
    assert first == {
        "id": first["id"],
        "batch_id": "b1",
        "merkle_root": "01" * 32,
        "tree_size": 10,
        "leaf_count": 1,
        "status": "confirmed",
        "chain_id": 31337,
        "transaction": "0x" + "01" * 32,
        "block_number": 101,
        "confirmations": 2,
        "anchor": "blink:eth:31337:0x" + "01" * 32,
        "created_at": AT_JSON,
        "submitted_at": AT_JSON,
        "confirmed_at": AT_JSON,
    }
    assert "unreachable" not in response.text  # operator detail stays with operators
    assert "raw" not in response.text

    one = client.get("/log/v1/anchors", params={"batch_id": "b2"}).json()["items"]
    assert [(a["batch_id"], a["status"], a["anchor"]) for a in one] == [("b2", "submitted", None)]
    confirmed = client.get("/log/v1/anchors", params={"status": "confirmed"}).json()["items"]
    assert [a["batch_id"] for a in confirmed] == ["b3", "b1"]

    page = client.get("/log/v1/anchors", params={"limit": 2}).json()
    assert [a["batch_id"] for a in page["items"]] == ["b3", "b2"]
    rest = client.get("/log/v1/anchors", params={"limit": 2, "before": page["next_before"]})
    assert [a["batch_id"] for a in rest.json()["items"]] == ["b1"]


@pytest.mark.parametrize(
    "params", [{"status": "lost"}, {"limit": 0}, {"limit": 501}, {"before": "x"}]
)
def test_bad_parameters_are_problems(
    world: tuple[Platform, ApiClient], params: dict[str, object]
) -> None:
    _, client = world
    response = client.get("/log/v1/anchors", params=params)
    assert response.status_code in (400, 422)
    assert response.headers["content-type"].startswith("application/problem+json")
