"""Coverage-guided fuzzing of one target with atheris (libFuzzer), for as long as asked.

Run: .venv/bin/python fuzz/run.py TARGET [-max_total_time=SECONDS] [libFuzzer flags...]
     (TARGET: verify, verify_jwt, ob2, blockcerts, image, png, csv; `make fuzz` runs each
     for $FUZZ_SECONDS, default 60). Crashes are written as crash-* files in the current
     directory; replay one with: .venv/bin/python fuzz/run.py TARGET crash-...

Each input is bounded: -rss_limit_mb=1024 (a decompression bomb or entity expansion that
allocates more is a finding) and -timeout=10 (a hang is a finding).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import atheris

with atheris.instrument_imports(include=["merito"], enable_loader_override=False):
    import targets


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in targets.TARGETS:
        raise SystemExit(f"usage: fuzz/run.py {{{','.join(targets.TARGETS)}}} [libFuzzer flags]")
    name = sys.argv[1]
    target = targets.TARGETS[name]
    corpus = Path(tempfile.mkdtemp(prefix=f"merito-fuzz-{name}-"))
    for n, seed in enumerate(targets.seeds(name)):
        (corpus / f"seed-{n}").write_bytes(seed)
    flags = list(sys.argv[2:])
    defaults = ["-rss_limit_mb=1024", "-timeout=10", "-max_len=262144"]
    given = {f.split("=", 1)[0] for f in flags}
    flags += [d for d in defaults if d.split("=", 1)[0] not in given]
    replay = [f for f in flags if not f.startswith("-")]
    args = [sys.argv[0], *flags] + ([] if replay else [str(corpus)])
    atheris.Setup(args, lambda data: targets.run_one(target, data))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
