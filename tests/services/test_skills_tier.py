"""MERITO_SKILLS_TIER: the default static embedding, or the heavier sentence-transformers tier
when that package is installed (a clear error without a model, a logged fallback without the
package), wired through bootstrap to the normaliser and the API's answer.

sentence-transformers (torch) is not installed in CI: the heavy tier runs here on a stand-in
module with the same interface (``SentenceTransformer(model, device=...).encode(...)``)."""

from __future__ import annotations

import dataclasses
import importlib.machinery
import logging
import sys
import types
from typing import Any

import numpy as np
import pytest

from merito import bootstrap
from merito.config import Settings
from merito.errors import InvalidInput
from merito.services import skills
from merito.services.platform import Platform
from merito.skills.taxonomy import concept_id
from merito.storage.tables_skills import SkillRow

ESCO = "http://data.europa.eu/esco/skill/"
LABELS = {"python": "Python (computer programming)", "sql": "SQL", "cook": "cook meals"}


class _FakeModel:
    """Encodes a text as its hashed character trigrams (deterministic, normalised)."""

    calls = 0

    def __init__(self, model: str, device: str = "cpu") -> None:
        self.model = model
        self.device = device

    def encode(self, texts: list[str], **_: Any) -> np.ndarray:
        type(self).calls += 1
        out = np.zeros((len(texts), 64), np.float32)
        for row, text in enumerate(texts):
            padded = f"  {text.lower()} "
            for i in range(len(padded) - 2):
                out[row, hash(padded[i : i + 3]) % 64] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


@pytest.fixture
def fake_sentence_transformers(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("sentence_transformers")
    module.__spec__ = importlib.machinery.ModuleSpec("sentence_transformers", None)
    module.SentenceTransformer = _FakeModel  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sentence_transformers", module)
    return module


def test_the_default_tier_needs_nothing(platform: Platform) -> None:
    assert bootstrap.skills_extras(Settings()) == {}
    assert skills.normalizer_tier(platform) == "default"


def test_the_heavy_tier_without_a_model_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match="MERITO_SKILLS_HEAVY_MODEL") as raised:
        bootstrap.skills_extras(Settings(skills_tier="heavy"))
    assert raised.value.property == "skills_heavy_model"


def test_the_heavy_tier_without_its_package_falls_back_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        bootstrap.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "sentence_transformers" else real(name, *a),
    )
    with caplog.at_level(logging.WARNING, logger="merito.bootstrap"):
        extras = bootstrap.skills_extras(Settings(skills_tier="heavy", skills_heavy_model="m"))
    assert extras == {}
    assert "sentence-transformers is not installed" in caplog.text
    assert "using the default skills tier" in caplog.text


def test_an_unknown_tier_is_refused_by_the_settings() -> None:
    with pytest.raises(ValueError, match="skills_tier"):
        Settings(skills_tier="huge")  # type: ignore[arg-type]


def test_the_heavy_tier_ranks_skills_with_its_model(
    platform: Platform, fake_sentence_transformers: types.ModuleType
) -> None:
    with platform.transaction() as session:
        for key, label in LABELS.items():
            uri = ESCO + key
            session.add(SkillRow(id=concept_id(uri), uri=uri, preferred_label=label, kind="skill"))
    extras = bootstrap.skills_extras(
        Settings(skills_tier="heavy", skills_heavy_model="local/minilm")
    )
    assert extras["skills_tier"] == "heavy:local/minilm"
    heavy = dataclasses.replace(platform, extras={**platform.extras, **extras})
    assert skills.normalizer_tier(heavy) == "heavy:local/minilm"
    before = _FakeModel.calls
    found = skills.search_skills(heavy, "python programming", limit=2)
    assert _FakeModel.calls > before  # the index and the query went through the model
    assert found[0].skill.uri == ESCO + "python"
    # the default tier keeps its own index beside it
    assert skills.search_skills(platform, "SQL", limit=1)[0].skill.uri == ESCO + "sql"
