"""Virus scanning of uploads by an external command (e.g. ``clamdscan --no-summary -``).

The file goes to the command's standard input. Exit status 0 means clean, 1 means a virus was
found (the ClamAV convention; the first line of output names it); anything else, or no answer
within the timeout, is a scanner failure: the upload is refused rather than stored unscanned.
"""

from __future__ import annotations

import shlex
import subprocess

from merito.errors import StorageError

__all__ = ["CommandScanner"]


class CommandScanner:
    def __init__(self, command: str, *, timeout: float = 60.0) -> None:
        self.argv = shlex.split(command)
        if not self.argv:
            raise ValueError("the scan command is empty")
        self.timeout = timeout

    def scan(self, data: bytes, *, filename: str) -> str | None:
        try:
            done = subprocess.run(  # noqa: S603 - argv from the operator's configuration
                self.argv, input=data, capture_output=True, timeout=self.timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise StorageError(f"the virus scanner could not run: {e}") from e
        if done.returncode == 0:
            return None
        if done.returncode == 1:
            found = done.stdout.decode("utf-8", "replace").strip().splitlines()
            return (found[0] if found else "a virus")[:200]
        raise StorageError(
            f"the virus scanner failed (exit status {done.returncode}): "
            f"{done.stderr.decode('utf-8', 'replace').strip()[:200]}"
        )
