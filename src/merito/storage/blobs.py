"""Content-addressed file stores (the ``BlobStore`` port): a local directory, or an S3 bucket.

A file's key is the lower-case hex SHA-256 of its bytes. Both stores check the digest on read,
so a file changed behind Merito's back is refused (StorageError), never served as the original.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Final

from merito.errors import InvalidInput, NotFound, StorageError

__all__ = ["LocalBlobStore", "S3BlobStore", "check_digest"]

_HEX: Final = re.compile(r"[0-9a-f]{64}")


def check_digest(sha256: str) -> str:
    if not isinstance(sha256, str) or not _HEX.fullmatch(sha256):
        raise InvalidInput("sha256 must be 64 lower-case hex digits", property="sha256")
    return sha256


def _verified(sha256: str, data: bytes) -> bytes:
    if hashlib.sha256(data).hexdigest() != sha256:
        raise StorageError(
            f"the stored file {sha256} no longer matches its digest (changed or corrupted)",
            transient=False,
        )
    return data


class LocalBlobStore:
    """Files under ``root/ab/cd/<sha256>``, written atomically (temp file, fsync, rename)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, sha256: str) -> Path:
        check_digest(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes, *, media_type: str) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        path = self._path(sha256)
        if path.exists():
            return sha256
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as e:
            raise StorageError(f"could not store the file: {e.strerror or e}") from e
        return sha256

    def get(self, sha256: str) -> bytes:
        path = self._path(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"no stored file {sha256}", property="sha256") from None
        except OSError as e:
            raise StorageError(f"could not read the file: {e.strerror or e}") from e
        return _verified(sha256, data)

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).is_file()


class S3BlobStore:
    """Files as objects ``<prefix><sha256>`` in an S3-compatible bucket (AWS, MinIO, Ceph...).

    ``client`` is a boto3 S3 client (made by ``merito.bootstrap``); every object carries its
    digest as ``x-amz-meta-sha256`` beside the checksum S3 keeps itself.
    """

    def __init__(self, client: Any, *, bucket: str, prefix: str = "evidence/") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def _key(self, sha256: str) -> str:
        return self.prefix + check_digest(sha256)

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

        try:
            return fn(**kwargs)
        except ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                raise NotFound(f"no stored file {kwargs.get('Key', '')}", property="sha256") from e
            raise StorageError(
                f"the file store refused to {what}: {code or e}", transient=code.startswith("5")
            ) from e
        except BotoCoreError as e:
            raise StorageError(f"the file store could not {what}: {e}") from e

    def put(self, data: bytes, *, media_type: str) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        if self.exists(sha256):
            return sha256
        self._call(
            "store the file",
            self.client.put_object,
            Bucket=self.bucket,
            Key=self._key(sha256),
            Body=data,
            ContentType=media_type,
            Metadata={"sha256": sha256},
            ChecksumAlgorithm="SHA256",
        )
        return sha256

    def get(self, sha256: str) -> bytes:
        answer = self._call(
            "read the file", self.client.get_object, Bucket=self.bucket, Key=self._key(sha256)
        )
        return _verified(sha256, answer["Body"].read())

    def exists(self, sha256: str) -> bool:
        try:
            self._call(
                "look up the file",
                self.client.head_object,
                Bucket=self.bucket,
                Key=self._key(sha256),
            )
        except NotFound:
            return False
        return True
