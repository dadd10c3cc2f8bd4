"""A citizen's rating of how one dossier was handled, as provincial systems push it.

Per-criterion answers and an overall verdict. The national rating form's criteria and answer
codes are not public, so both are free codes here (bounded in length); the verdict uses the
three levels ``DongBoDanhGia`` summarises (rất hài lòng, hài lòng, chưa hài lòng).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from gateway.schemas.wire import DossierNumber

__all__ = ["DossierRating", "RatingAnswer", "Verdict"]

Verdict = Literal["very_satisfied", "satisfied", "unsatisfied"]
"""Rất hài lòng, hài lòng, chưa hài lòng."""

_Code = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


class RatingAnswer(BaseModel):
    """One criterion of the rating form and the citizen's answer to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    criterion: _Code
    answer: _Code


class DossierRating(BaseModel):
    """``POST /v1/ratings``: a citizen's rating of dossier ``dossier_no``.

    ``rated_at`` must carry a time zone. A later rating of the same dossier replaces an earlier
    one; an older one than the rating held is acknowledged and ignored.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    dossier_no: DossierNumber
    rated_at: AwareDatetime
    verdict: Verdict
    answers: list[RatingAnswer] = Field(default_factory=list, max_length=50)

    @field_validator("answers")
    @classmethod
    def _one_answer_per_criterion(cls, value: list[RatingAnswer]) -> list[RatingAnswer]:
        seen: set[str] = set()
        for a in value:
            if a.criterion in seen:
                raise ValueError(f"criterion {a.criterion} is answered twice")
            seen.add(a.criterion)
        return value

    @property
    def agency(self) -> str:
        """The agency code that opens ``dossier_no``."""
        return self.dossier_no.rsplit("-", 2)[0]
