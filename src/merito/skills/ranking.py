"""Explainable candidate ranking: weighted coverage of a role's skills over a candidate matrix.

A role is a list of requirements (skill, required or optional, weight, minimum level). A
candidate meets a requirement with the best of the skills that match it:

- the skill itself (``exact``, full credit),
- a narrower skill (``narrower``: the candidate holds a specialisation of what is asked,
  ``Credit.narrower``),
- a broader skill (``broader``: the candidate holds the general skill only, ``Credit.broader``),

one hop through the taxonomy's broader relations, and only when the candidate's level of that
skill reaches the requirement's minimum. The requirement's credit is ``level x factor`` and the
score is ``sum(weight_i x credit_i) / sum(weight_i)`` in [0, 1]: an explanation lists the terms
of that sum, so it adds up to the score. No attribute of the person enters the score: only the
skills their verified credentials prove.

The candidate matrix is stored skill-major (CSC: for each skill, the candidates holding it and
their levels), an inverted index: one role query reads only the columns its requirements match,
so its cost is the number of (candidate, skill) entries in those columns, not the matrix size.
The top k come from ``numpy.argpartition``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse

from merito.skills.profiles import Proof, SkillProfile

__all__ = [
    "CandidateIndex",
    "Credit",
    "Explanation",
    "MatchKind",
    "Ranked",
    "Requirement",
    "RequirementMatch",
    "SkillSpace",
    "explain",
    "rank",
    "score_all",
    "specificity",
]

MatchKind = Literal["exact", "narrower", "broader"]
_KINDS: Final[tuple[MatchKind, ...]] = ("exact", "narrower", "broader")
_EXACT, _NARROWER, _BROADER = 0, 1, 2


@dataclass(frozen=True, slots=True, kw_only=True)
class Credit:
    """The share of credit a match through the hierarchy earns."""

    narrower: float = 0.8
    broader: float = 0.5


@dataclass(frozen=True, slots=True, kw_only=True)
class Requirement:
    skill: str
    required: bool = True
    weight: float = 1.0
    #: the least level (in [0, 1]) of the matching skill the candidate must hold
    min_level: float = 0.0
    label: str | None = None


class SkillSpace:
    """The skills in a fixed order and, for each, the skills that match it and their factor.

    ``broader`` holds (narrower skill, broader skill) pairs: ESCO's broader relations.
    """

    def __init__(
        self,
        skills: Iterable[str],
        broader: Iterable[tuple[str, str]] = (),
        *,
        credit: Credit | None = None,
    ) -> None:
        self.credit = credit or Credit()
        self.skills: tuple[str, ...] = tuple(dict.fromkeys(skills))
        self.index: dict[str, int] = {s: i for i, s in enumerate(self.skills)}
        self.broader_pairs: tuple[tuple[str, str], ...] = tuple(
            (c, p) for c, p in broader if c in self.index and p in self.index and c != p
        )
        n = len(self.skills)
        child = np.fromiter((self.index[c] for c, _ in self.broader_pairs), np.int64)
        parent = np.fromiter((self.index[p] for _, p in self.broader_pairs), np.int64)
        diag = np.arange(n, dtype=np.int64)
        # rows: the required skill; columns: the held skill that matches it
        rows = np.concatenate([diag, parent, child])
        cols = np.concatenate([diag, child, parent])
        factors = np.concatenate(
            [
                np.ones(n),
                np.full(len(child), self.credit.narrower),
                np.full(len(child), self.credit.broader),
            ]
        )
        kinds = np.concatenate(
            [
                np.full(n, _EXACT, np.int8),
                np.full(len(child), _NARROWER, np.int8),
                np.full(len(child), _BROADER, np.int8),
            ]
        )
        # keep the best factor per (row, column) pair: exact beats any hierarchy path
        order = np.lexsort((kinds, -factors, cols, rows))
        rows, cols, factors, kinds = rows[order], cols[order], factors[order], kinds[order]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        rows, cols, factors, kinds = rows[first], cols[first], factors[first], kinds[first]
        self._indptr = np.searchsorted(rows, np.arange(n + 1)).astype(np.int64)
        self._cols = cols.astype(np.int32)
        self._factors = factors.astype(np.float32)
        self._kinds = kinds

    def __len__(self) -> int:
        return len(self.skills)

    def __contains__(self, skill: object) -> bool:
        return skill in self.index

    def extended(self, skills: Iterable[str]) -> SkillSpace:
        """This space with more skills (those already in it keep their place)."""
        extra = [s for s in skills if s not in self.index]
        if not extra:
            return self
        return SkillSpace([*self.skills, *extra], self.broader_pairs, credit=self.credit)

    def matches(
        self, skill: str
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32], npt.NDArray[np.int8]]:
        """The columns matching ``skill``, their factors and kinds (empty when unknown)."""
        i = self.index.get(skill)
        if i is None:
            return (np.empty(0, np.int32), np.empty(0, np.float32), np.empty(0, np.int8))
        lo, hi = self._indptr[i], self._indptr[i + 1]
        return self._cols[lo:hi], self._factors[lo:hi], self._kinds[lo:hi]

    def kind(self, code: int) -> MatchKind:
        return _KINDS[code]


class CandidateIndex:
    """Candidates x skills levels (float32, CSC) over a ``SkillSpace``; rows name candidates."""

    def __init__(
        self, space: SkillSpace, matrix: sparse.spmatrix | sparse.sparray, ids: Sequence[str]
    ) -> None:
        csc = sparse.csc_array(matrix, dtype=np.float32)
        if csc.shape[1] != len(space):
            raise ValueError(f"matrix has {csc.shape[1]} columns, the space {len(space)} skills")
        if csc.shape[0] != len(ids):
            raise ValueError(f"matrix has {csc.shape[0]} rows for {len(ids)} candidate ids")
        csc.sum_duplicates()
        self.space = space
        self.matrix = csc
        self.ids: Sequence[str] = ids

    @classmethod
    def from_levels(
        cls, space: SkillSpace, levels: Sequence[Mapping[str, float]], ids: Sequence[str]
    ) -> CandidateIndex:
        """Skills outside the space are left out (extend the space first to keep them)."""
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for r, skills in enumerate(levels):
            for skill, level in skills.items():
                c = space.index.get(skill)
                if c is not None and level > 0:
                    rows.append(r)
                    cols.append(c)
                    vals.append(min(1.0, float(level)))
        matrix = sparse.coo_array(
            (np.asarray(vals, np.float32), (np.asarray(rows), np.asarray(cols))),
            shape=(len(levels), len(space)),
        )
        return cls(space, matrix, ids)

    @classmethod
    def from_profiles(
        cls, space: SkillSpace, profiles: Sequence[SkillProfile], ids: Sequence[str]
    ) -> CandidateIndex:
        return cls.from_levels(
            space, [{s: c.level for s, c in p.skills.items()} for p in profiles], ids
        )

    def __len__(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def nbytes(self) -> int:
        m = self.matrix
        return int(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes)


@dataclass(frozen=True, slots=True)
class Ranked:
    row: int
    id: str
    score: float
    missing_required: int


def _total_weight(requirements: Sequence[Requirement]) -> float:
    total = float(sum(max(0.0, r.weight) for r in requirements))
    return total if total > 0 else 1.0


def score_all(
    index: CandidateIndex, requirements: Sequence[Requirement]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int32]]:
    """Every candidate's score and count of unmet required requirements.

    Reads only the matrix columns the requirements match. Fancy-index updates with repeated
    rows (``a[rows] += v``) apply once per row, which is exactly what is wanted here: a
    candidate reached through several matching columns is credited once, with its best match.
    """
    m = len(index)
    csc = index.matrix
    indptr, indices, data = csc.indptr, csc.indices, csc.data
    total = _total_weight(requirements)
    scores = np.zeros(m, np.float32)
    met = np.zeros(m, np.int32)
    credit = np.zeros(m, np.float32)
    required = 0
    for requirement in requirements:
        weight = np.float32(max(0.0, requirement.weight) / total)
        floor = np.float32(requirement.min_level)
        required += requirement.required
        touched: list[npt.NDArray[np.int32]] = []
        cols, factors, _ = index.space.matches(requirement.skill)
        for col, factor in zip(cols.tolist(), factors.tolist(), strict=True):
            lo, hi = indptr[col], indptr[col + 1]
            if lo == hi:
                continue
            rows = indices[lo:hi]
            levels = data[lo:hi]
            gained = np.where(levels >= floor, levels * np.float32(factor), np.float32(0))
            credit[rows] = np.maximum(credit[rows], gained)
            touched.append(rows)
        if not touched:
            continue
        hit = np.concatenate(touched) if len(touched) > 1 else touched[0]
        gained_all = credit[hit]
        scores[hit] += weight * gained_all
        if requirement.required:
            met[hit] += (gained_all > 0).astype(np.int32)
        credit[hit] = 0.0
    return scores, np.int32(required) - met


def rank(
    index: CandidateIndex,
    requirements: Sequence[Requirement],
    *,
    k: int = 20,
    require_all: bool = False,
    min_score: float = 0.0,
) -> list[Ranked]:
    """The ``k`` best candidates (score > ``min_score``), best first; ties by row order.

    ``require_all`` keeps only candidates meeting every required requirement.
    """
    if k <= 0 or len(index) == 0:
        return []
    scores, unmet = score_all(index, requirements)
    eligible = scores > np.float32(min_score)
    if require_all:
        eligible &= unmet == 0
    rows = np.flatnonzero(eligible)
    if rows.size == 0:
        return []
    k = min(k, rows.size)
    if k < rows.size:
        # the k-th best score; of the rows tied at it, the first ones in row order (rows from
        # flatnonzero are ascending), so the cut is deterministic
        values = scores[rows]
        kth = -np.partition(-values, k - 1)[k - 1]
        above = rows[values > kth]
        rows = np.concatenate([above, rows[values == kth][: k - above.size]])
    rows = rows[np.lexsort((rows, -scores[rows]))]
    return [
        Ranked(
            row=int(r), id=index.ids[int(r)], score=float(scores[r]), missing_required=int(unmet[r])
        )
        for r in rows
    ]


def specificity(essential_in: int, occupations: int, *, floor: float = 0.05) -> float:
    """A requirement weight from how much a skill tells apart: in (0, 1], 1 for a skill no other
    occupation needs, small for one nearly every occupation needs ("communicate").

    ``(idf / idf_max) ** 2`` with ``idf = ln((occupations + 1) / (essential_in + 1))``: ESCO's
    occupation-skill links as document frequencies (benchmarks/matching_quality.py measures it
    against uniform weights).
    """
    if occupations <= 0:
        return 1.0
    top = math.log(occupations + 1)
    idf = math.log((occupations + 1) / (max(0, essential_in) + 1))
    return max(floor, min(1.0, (idf / top) ** 2))


# --- explanations ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RequirementMatch:
    """How one requirement is met: by which skill, at what level, proven by what."""

    requirement: Requirement
    #: met; below_minimum (a matching skill is held, under the minimum level); missing
    status: Literal["met", "below_minimum", "missing"]
    matched_skill: str | None = None
    match: MatchKind | None = None
    #: the candidate's level of the matched skill and the factor its match kind earns
    level: float = 0.0
    factor: float = 0.0
    credit: float = 0.0
    #: weight share x credit: the requirement's term in the score
    contribution: float = 0.0
    proofs: tuple[Proof, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Explanation:
    score: float
    matches: tuple[RequirementMatch, ...]

    @property
    def missing(self) -> tuple[RequirementMatch, ...]:
        return tuple(m for m in self.matches if m.status != "met")

    @property
    def missing_required(self) -> int:
        return sum(1 for m in self.missing if m.requirement.required)


def explain(
    profile: SkillProfile, requirements: Sequence[Requirement], space: SkillSpace
) -> Explanation:
    """The score of one candidate, term by term, with the credentials behind each match.

    It follows ``score_all`` exactly (float32 level comparisons included), so the score it
    reports is the one the ranking used.
    """
    total = _total_weight(requirements)
    matches: list[RequirementMatch] = []
    score = 0.0
    for requirement in requirements:
        floor = np.float32(requirement.min_level)
        best: tuple[float, int, str, float, float] | None = None
        below: tuple[float, int, str, float] | None = None
        cols, factors, kinds = space.matches(requirement.skill)
        for col, factor, kind in zip(cols.tolist(), factors.tolist(), kinds.tolist(), strict=True):
            skill = space.skills[col]
            level = np.float32(min(1.0, profile.level(skill)))
            if level <= 0:
                continue
            if level >= floor:
                gained = float(level * np.float32(factor))
                # the larger credit wins; on a tie the closer match (exact, then narrower)
                if best is None or (gained, -kind) > (best[0], -best[1]):
                    best = (gained, kind, skill, float(level), float(factor))
            elif below is None or float(level) > below[0]:
                below = (float(level), kind, skill, float(factor))
        if best is not None:
            gained, kind, skill, level_f, factor_f = best
            contribution = max(0.0, requirement.weight) / total * gained
            score += contribution
            claim = profile.skills.get(skill)
            matches.append(
                RequirementMatch(
                    requirement=requirement,
                    status="met",
                    matched_skill=skill,
                    match=space.kind(kind),
                    level=level_f,
                    factor=factor_f,
                    credit=gained,
                    contribution=contribution,
                    proofs=() if claim is None else claim.proofs,
                )
            )
        elif below is not None:
            level_f, kind, skill, factor_f = below
            claim = profile.skills.get(skill)
            matches.append(
                RequirementMatch(
                    requirement=requirement,
                    status="below_minimum",
                    matched_skill=skill,
                    match=space.kind(kind),
                    level=level_f,
                    factor=factor_f,
                    proofs=() if claim is None else claim.proofs,
                )
            )
        else:
            matches.append(RequirementMatch(requirement=requirement, status="missing"))
    return Explanation(score=score, matches=tuple(matches))
