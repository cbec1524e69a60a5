"""The ESCO taxonomy the skills benchmarks run on: Merito's bundled copy (no ../shared needed)."""

from __future__ import annotations

from importlib.resources import files

from merito.skills.bundle import decode_bundle
from merito.skills.taxonomy import Taxonomy

BUNDLE = "data/esco-v1.1.1-en.json.xz"


def load_taxonomy() -> Taxonomy:
    return decode_bundle(files("merito.skills").joinpath(BUNDLE).read_bytes())
