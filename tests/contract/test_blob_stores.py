"""The BlobStore port on both adapters: a local directory and an S3-compatible bucket (moto's
server mode on 127.0.0.1, reached through boto3 as a real S3 endpoint would be); and the
command virus scanner."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from merito import bootstrap
from merito.config import Settings
from merito.domain.ports import BlobStore
from merito.errors import InvalidInput, NotFound, StorageError
from merito.net.scanner import CommandScanner
from merito.storage.blobs import LocalBlobStore, S3BlobStore

DATA = b"%PDF-1.4\n% evidence\n"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _s3(endpoint: str, bucket: str) -> S3BlobStore:
    settings = Settings(
        evidence_store="s3",
        evidence_s3_bucket=bucket,
        evidence_s3_endpoint_url=endpoint,
        evidence_s3_access_key_id="testing",
        evidence_s3_secret_access_key="testing",  # type: ignore[arg-type]
    )
    store = bootstrap.evidence_store(settings)
    assert isinstance(store, S3BlobStore)
    store.client.create_bucket(Bucket=bucket)
    return store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    endpoint: str = request.getfixturevalue("s3_endpoint")
    return _s3(endpoint, f"evidence-{tmp_path.name.lower().replace('_', '-')[:40]}")


def test_put_get_by_digest_once(store: BlobStore) -> None:
    digest = store.put(DATA, media_type="application/pdf")
    assert digest == hashlib.sha256(DATA).hexdigest()
    assert store.put(DATA, media_type="application/pdf") == digest
    assert store.exists(digest)
    assert store.get(digest) == DATA
    missing = hashlib.sha256(b"other").hexdigest()
    assert not store.exists(missing)
    with pytest.raises(NotFound):
        store.get(missing)
    with pytest.raises(InvalidInput, match="64 lower-case hex"):
        store.get("../../etc/passwd")


def test_a_changed_file_is_refused(store: BlobStore) -> None:
    digest = store.put(DATA, media_type="application/pdf")
    if isinstance(store, LocalBlobStore):
        store._path(digest).write_bytes(b"tampered")
    else:
        assert isinstance(store, S3BlobStore)
        store.client.put_object(Bucket=store.bucket, Key=store._key(digest), Body=b"tampered")
    with pytest.raises(StorageError, match="no longer matches its digest"):
        store.get(digest)


def test_an_unreachable_bucket_is_a_storage_error(s3_endpoint: str) -> None:
    store = _s3(s3_endpoint, "evidence-reachable")
    store.bucket = "no-such-bucket"
    with pytest.raises(StorageError, match="refused"):
        store.put(DATA, media_type="application/pdf")


def test_s3_needs_a_bucket() -> None:
    with pytest.raises(InvalidInput, match="MERITO_EVIDENCE_S3_BUCKET"):
        bootstrap.evidence_store(Settings(evidence_store="s3"))


SCAN = (
    "import sys; data = sys.stdin.buffer.read(); "
    "found = b'EICAR-STANDARD-ANTIVIRUS-TEST-FILE' in data; "
    "print('stdin: Eicar-Test-Signature FOUND' if found else 'stdin: OK'); "
    "sys.exit(1 if found else 0)"
)


def test_command_scanner_follows_the_clamav_exit_codes() -> None:
    scanner = CommandScanner(f'{sys.executable} -c "{SCAN}"')
    assert scanner.scan(DATA, filename="ok.pdf") is None
    eicar = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    assert scanner.scan(eicar, filename="eicar.txt") == "stdin: Eicar-Test-Signature FOUND"
    broken = CommandScanner(f'{sys.executable} -c "import sys; sys.exit(2)"')
    with pytest.raises(StorageError, match="exit status 2"):
        broken.scan(DATA, filename="x")
    with pytest.raises(StorageError, match="could not run"):
        CommandScanner("/nonexistent/clamdscan -").scan(DATA, filename="x")
