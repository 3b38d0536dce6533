from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from crm_chassis.dates import Instant
from crm_scoring.runs.models import ScoringRun
from crm_scoring.scores.registry import EVENTS
from crm_scoring.scores.schemas import Quality


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: Instant | None = Field(
        default=None,
        description="none: a live run as of now; a past instant: a backtest that sees only the facts up to it",
    )
    holdout_until: Instant | None = Field(
        default=None,
        description="a backtest's holdout end: its predictions are compared with what happened between as_of "
        "and this instant (GET /scoring/runs/{id}/validation)",
    )
    rebuild_statistics: bool = Field(
        default=False,
        description="a live run only: compute every customer's purchase statistics from all their orders "
        "again, instead of reading the ones kept up to date as orders arrive",
    )


STAGES = ("load", "fit", "score", "write")
StageName = Literal["load", "fit", "score", "write"]


class RunStage(BaseModel):
    name: StageName
    status: Literal["pending", "running", "done", "failed"]
    seconds: float | None = Field(description="how long the stage took, once done")


class RunProgress(BaseModel):
    done: int = Field(description="customers written (the write stage)")
    total: int = Field(description="customers in the run, known once loaded")
    stage: StageName | None = Field(description="the stage running now; null when queued or finished")
    stages: list[RunStage] = Field(description="load, fit, score and write, in order, each with its status")


def progress_of(run: ScoringRun) -> RunProgress:
    """Where a run is: each stage is done once its timing is recorded, the first other one runs."""
    timings = run.timings or {}
    current = next((name for name in STAGES if name not in timings), None) if run.status == "running" else None
    failed = next((name for name in STAGES if name not in timings), None) if run.status == "failed" else None
    stages = [
        RunStage(
            name=name,
            status="done"
            if name in timings
            else "running"
            if name == current
            else "failed"
            if name == failed
            else "pending",
            seconds=timings.get(name),
        )
        for name in STAGES
    ]
    return RunProgress(done=run.progress_done, total=run.progress_total, stage=current, stages=stages)


# The shapes of a run's counts, its model and its validation. They are stored and computed as plain
# dicts (runs/service.py, scores/engine.py, models/validation.py); these models validate them on the
# way out, so the document and the answer cannot differ: a member they do not know is an error.


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


_COUNTS: dict[str, Any] = {
    "customers": (int, Field(description="customers scored")),
    "buyers": (int, Field(description="customers with a purchase")),
    "repeat_buyers": (int, Field(description="customers with a repeat purchase")),
    "at_risk": (int, Field(description="customers suggested at_risk")),
    "lost": (int, Field(description="customers suggested lost")),
    "key_customers": (int, Field(description="customers of a key kind")),
    **{rule.key: (int, Field(description=f"{rule.type} events raised (0 for a backtest)")) for rule in EVENTS},
    "statistics_refreshed": (
        int | None,
        Field(
            default=None,
            description="a live run: customers whose kept purchase statistics were out of date and computed "
            "from their orders again (all of them on a rebuild); null for a backtest",
        ),
    ),
}
RunCounts = create_model(
    "RunCounts",
    __base__=Shape,
    __doc__="What a succeeded run found: its population, lifecycle suggestions, and the events it raised.",
    **_COUNTS,
)


class ModelData(Shape):
    customers: int
    buyers: int
    repeat_buyers: int


class FitView(Shape):
    parameters: dict[str, float]
    standard_errors: dict[str, float | None] = Field(description="null where not estimable")
    log_likelihood: float
    converged: bool
    iterations: int
    observations: int
    distinct_rows: int
    fit_seconds: float
    quality: Quality = Field(description="reliable or unreliable (no_model is a missing fit: null)")
    reasons: list[str] = Field(description="why the fit is unreliable; empty when reliable")


class RfmBreakpoints(Shape):
    r: list[float] = Field(description="recency quintile breakpoints (on −days)")
    f: list[float] = Field(description="frequency quintile breakpoints")
    m: list[float] = Field(description="monetary quintile breakpoints")


class AbcFloors(Shape):
    A: float | None = Field(description="the lowest value in class A")
    B: float | None = Field(description="the lowest value in class B")


class PopulationRetention(Shape):
    rate: float | None = Field(description="of the buyers of the year before last, the share who bought last year")
    base: int = Field(description="the buyers of the year before last")


class ModelView(Shape):
    run_id: uuid.UUID
    mode: Literal["live", "backtest"]
    as_of: datetime
    time_unit: str
    data: ModelData
    bgnbd: FitView | None = Field(description="null: too few buyers to fit")
    gamma_gamma: FitView | None = Field(description="null: too few repeat buyers to fit")
    rfm_breakpoints: RfmBreakpoints | None
    abc_floors: AbcFloors | None
    growth_cutoff: float | None
    population_retention: PopulationRetention | None
    one_time_buyers_rule: str


class FrequencyClass(Shape):
    frequency: str = Field(description="repeat purchases in calibration: 0, 1, … or the top class n+")
    customers: int
    actual_purchases: int
    actual_mean: float | None
    predicted_mean: float | None
    predicted_mean_with_one_time_rule: float | None


class TrackingPoint(Shape):
    week: int
    day: int = Field(description="day ordinal of the week's end")
    actual: float
    predicted: float


class Tracking(Shape):
    calibration_weeks: float
    points: list[TrackingPoint]


class SpendCheck(Shape):
    customers: int
    actual_mean: float | None
    predicted_mean: float | None


class Errors(Shape):
    mean_absolute_error: float | None
    aggregate_error_percent: float | None
    correlation: float | None


class Validation(Shape):
    run_id: uuid.UUID
    as_of: datetime
    holdout_until: datetime
    customers: int
    holdout_length: float = Field(description="in the model's time unit")
    by_frequency: list[FrequencyClass]
    tracking: Tracking
    spend: SpendCheck | None = Field(description="null without a fitted Gamma-Gamma")
    errors: Errors
    errors_with_one_time_rule: Errors
    actual_total: int
    predicted_total: float


class RunRead(BaseModel):
    id: uuid.UUID
    status: Literal["queued", "running", "succeeded", "failed"]
    mode: Literal["live", "backtest"]
    as_of: datetime
    holdout_until: datetime | None
    rebuild_statistics: bool
    progress: RunProgress
    counts: RunCounts | None = Field(description="null until the run has succeeded")  # type: ignore[valid-type]
    timings: dict[str, float]
    requested_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None

    @classmethod
    def of(cls, run: ScoringRun) -> RunRead:
        return cls(
            id=run.id,
            status=run.status,  # type: ignore[arg-type]
            mode=run.mode,  # type: ignore[arg-type]
            as_of=run.as_of,
            holdout_until=run.holdout_until,
            rebuild_statistics=bool(run.rebuild_statistics),
            progress=progress_of(run),
            counts=run.counts or None,
            timings=run.timings or {},
            requested_by=run.requested_by,
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            error=run.error,
        )
