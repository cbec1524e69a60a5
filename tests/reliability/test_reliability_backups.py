"""`merito backup` / `restore` / `migrate-db`: a populated instance (the demo seed, sealed in the
log) round-trips SQLite -> archive -> PostgreSQL -> archive -> SQLite and SQLite -> PostgreSQL
directly; every credential verifies as before (the revoked one still fails) and the log's
signed tree head is the same. The archive is encrypted and refuses damage, truncation, a wrong
passphrase and a non-empty target."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import pytest
from reliability_support import (
    MASTER_KEY,
    PASSPHRASE,
    Verdicts,
    fresh_postgres,
    platform_for,
    settings_for,
    verdicts,
)
from typer.testing import CliRunner

from merito import bootstrap
from merito.cli.main import app
from merito.errors import Conflict, InvalidInput
from merito.proofs.keys import private_key_to_jwk
from merito.services import backup, demo, ledger
from merito.services.ledger import SealPolicy
from merito.storage import KeyStore, create_engine_for, session_factory


@dataclass(frozen=True)
class Instance:
    url: str
    data_dir: Path
    before: Verdicts
    revoked_id: str
    archive: Path
    signer_secret: bytes


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Instance:
    """The demo seeded on SQLite, every credential sealed in the log, and its backup."""
    data_dir = tmp_path_factory.mktemp("source")
    url = f"sqlite:///{data_dir / 'merito.db'}"
    platform = platform_for(url, data_dir)
    with pytest.MonkeyPatch.context() as patch:
        # the demo without its 168k-row ESCO taxonomy and hiring role (too slow for CI on a
        # shared machine; docs/reliability.md times the full demo's backup by hand)
        patch.setattr(demo.skills, "ensure_taxonomy", lambda *a, **k: None)
        patch.setattr(demo.hiring, "seed_demo_role", lambda *a, **k: False)
        seed = demo.seed_demo(platform, password=PASSPHRASE)
    while ledger.seal_pending(platform, policy=SealPolicy(batch_size=4), force=True):
        pass
    before = verdicts(platform, settings_for(url, data_dir))
    issued = len(before.verified)
    assert issued >= len(seed.credentials)
    assert before.head[0] == issued  # every credential anchored
    assert [k for k, ok in before.verified.items() if not ok] == [seed.revoked.id]
    # the issuer's private key, as the key store unseals it (to look for it in the archive)
    engine = create_engine_for(url)
    keystore = KeyStore(session_factory(engine), MASTER_KEY)
    secret = keystore_secret(keystore, seed.org_id)
    engine.dispose()
    archive = data_dir / "merito.backup"
    result = backup.backup(
        database_url=url, master_key=MASTER_KEY, passphrase=PASSPHRASE, out=archive
    )
    assert result.rows["credentials"] == issued
    return Instance(url, data_dir, before, seed.revoked.id, archive, secret)


def keystore_secret(keystore: KeyStore, org_id: str) -> bytes:
    """The raw private key bytes (the JWK's ``d``) of the organisation's signing key."""
    (key,) = keystore.public_keys(org_id)
    signer = keystore.signer(org_id, key.verification_method)
    d = private_key_to_jwk(signer.key)["d"]
    return base64.urlsafe_b64decode(d + "=" * (-len(d) % 4))


def test_backup_restores_into_postgresql_and_back_into_sqlite(
    instance: Instance, postgres_database: str, tmp_path: Path
) -> None:
    archive = instance.archive.read_bytes()
    assert MASTER_KEY.hex().encode() not in archive
    assert MASTER_KEY not in archive
    assert instance.signer_secret not in archive
    assert instance.archive.stat().st_mode & 0o777 == 0o600
    with fresh_postgres(postgres_database) as pg_url:
        restored = backup.restore(
            archive=instance.archive, passphrase=PASSPHRASE, database_url=pg_url
        )
        assert restored.master_key == MASTER_KEY
        assert verdicts(platform_for(pg_url, tmp_path), settings_for(pg_url, tmp_path)) == (
            instance.before
        )
        # and from PostgreSQL (a REPEATABLE READ snapshot) back into a new SQLite file
        second = tmp_path / "second.backup"
        backup.backup(database_url=pg_url, master_key=MASTER_KEY, passphrase=PASSPHRASE, out=second)
    sqlite_url = f"sqlite:///{tmp_path / 'again.db'}"
    backup.restore(archive=second, passphrase=PASSPHRASE, database_url=sqlite_url)
    platform = platform_for(sqlite_url, tmp_path)
    assert verdicts(platform, settings_for(sqlite_url, tmp_path)) == instance.before
    # the restored instance keeps working: ids and sequences carry on
    assert ledger.seal_pending(platform, force=True) is None


def test_cli_restore_adopts_the_master_key_and_migrate_db_copies_to_postgresql(
    instance: Instance, postgres_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    target = tmp_path / "restored"
    monkeypatch.setenv("MERITO_DATA_DIR", str(target))
    monkeypatch.delenv("MERITO_DATABASE_URL", raising=False)
    monkeypatch.delenv("MERITO_MASTER_KEY", raising=False)
    monkeypatch.setenv("MERITO_BACKUP_PASSPHRASE", PASSPHRASE)
    result = runner.invoke(app, ["restore", str(instance.archive)])
    assert result.exit_code == 0, result.output
    assert "Restored" in result.output
    assert (target / "master.key").read_text().strip() == MASTER_KEY.hex()
    assert (target / "master.key").stat().st_mode & 0o777 == 0o600
    # migrate-db from the restored SQLite instance into PostgreSQL
    with fresh_postgres(postgres_database) as pg_url:
        result = runner.invoke(app, ["migrate-db", "--to", pg_url])
        assert result.exit_code == 0, result.output
        assert "Copied" in result.output
        assert verdicts(platform_for(pg_url, tmp_path), settings_for(pg_url, tmp_path)) == (
            instance.before
        )
        # a second copy into the now populated database is refused, nothing written
        with pytest.raises(Conflict, match="not empty"):
            backup.migrate_database(
                source_url=f"sqlite:///{target / 'merito.db'}",
                target_url=pg_url,
                master_key=MASTER_KEY,
            )
    # an instance with another master key refuses the backup before writing anything
    other = tmp_path / "other"
    other.mkdir()
    (other / "master.key").write_text(bytes(32).hex())
    with pytest.raises(Conflict, match="another master key"):
        bootstrap.adopt_master_key(settings_for("sqlite://", other, master_key=None), MASTER_KEY)


def test_damaged_truncated_or_wrongly_unlocked_archives_are_refused(
    instance: Instance, tmp_path: Path
) -> None:
    data = instance.archive.read_bytes()
    url = f"sqlite:///{tmp_path / 'target.db'}"

    def restore(blob: bytes, passphrase: str = PASSPHRASE) -> None:
        path = tmp_path / "bad.backup"
        path.write_bytes(blob)
        backup.restore(archive=path, passphrase=passphrase, database_url=url)

    with pytest.raises(InvalidInput, match="wrong passphrase"):
        restore(data, "not the passphrase")
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 1
    with pytest.raises(InvalidInput, match=r"integrity|damaged|wrong passphrase"):
        restore(bytes(flipped))
    with pytest.raises(InvalidInput, match="truncated"):
        restore(data[: len(data) - 100])
    with pytest.raises(InvalidInput, match="after its last chunk"):
        restore(data + b"x")
    with pytest.raises(InvalidInput, match="not a Merito backup"):
        restore(b"PK\x03\x04" + data[4:])
    with pytest.raises(InvalidInput, match="at least 8"):
        backup.backup(
            database_url=url, master_key=MASTER_KEY, passphrase="short", out=tmp_path / "x"
        )
    # nothing was half-restored: the target has the schema and no rows
    platform = platform_for(url, tmp_path)
    assert verdicts(platform, settings_for(url, tmp_path)).verified == {}
    assert backup.read_manifest(instance.archive, passphrase=PASSPHRASE)["source"] == "sqlite"
