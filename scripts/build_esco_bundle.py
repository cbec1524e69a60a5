"""Builds src/merito/skills/data/esco-v1.1.1-en.json.xz from the original ESCO CSV zips.

    .venv/bin/python scripts/build_esco_bundle.py ../shared/data/skills/esco-v1.1.1

The input is the official ESCO v1.1.1 CSV download (the English classification zip and the
language-neutral relations zip; see src/merito/skills/data/SOURCES.md). The output keeps only
what Merito uses (English labels, descriptions, hierarchy, occupations and their links), so the
product never needs the original files to install, run or test. The bytes are deterministic.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from merito.services.skills import BUNDLED_TAXONOMY, read_taxonomy
from merito.skills.bundle import decode_bundle, encode_bundle

OUT = Path(__file__).resolve().parents[1] / "src" / "merito" / "skills" / "data" / BUNDLED_TAXONOMY


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="folder holding the ESCO CSV zips or CSVs")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    taxonomy = read_taxonomy(args.source, version="ESCO v1.1.1", language="en")
    data = encode_bundle(taxonomy)
    if decode_bundle(data) != taxonomy:
        raise SystemExit("the bundle does not decode to the parsed taxonomy")
    args.out.write_bytes(data)
    print(f"{args.out}: {len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    print("counts:", taxonomy.counts())
    print("dropped:", taxonomy.dropped)


if __name__ == "__main__":
    main()
