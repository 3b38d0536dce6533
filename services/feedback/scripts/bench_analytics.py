"""Time the feedback analytics endpoints on seeded data (in process, SQLite or PostgreSQL).

    .venv/bin/python services/feedback/scripts/bench_analytics.py --complaints 20000 --responses 50000
    .venv/bin/python services/feedback/scripts/bench_analytics.py --postgres postgresql://postgres@127.0.0.1/test

Prints the median of five timed requests per endpoint after one warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from crm_chassis.testing import internal_headers, migrate, scratch_database
from crm_feedback.complaints.models import Complaint
from crm_feedback.config import Settings
from crm_feedback.main import create_app
from crm_feedback.surveys.models import Survey, SurveyResponse, SurveyVersion

ALEMBIC_INI = Path(__file__).parents[1] / "alembic.ini"
END = datetime(2026, 11, 26, tzinfo=UTC)
QUESTIONS = [
    {"key": "recommend", "type": "nps", "text": "Recommend?", "required": True},
    {"key": "overall", "type": "rating", "text": "Overall", "required": True},
    {"key": "speed", "type": "expectation_perception", "text": "Speed", "required": True},
]


def _complaint(rng: random.Random) -> dict[str, Any]:
    opened = END - timedelta(minutes=rng.randrange(365 * 24 * 60))
    responded = opened + timedelta(minutes=rng.randrange(1, 600))
    resolved = responded + timedelta(minutes=rng.randrange(1, 5000)) if rng.random() < 0.8 else None
    return {
        "id": uuid.uuid4(),
        "customer_id": uuid.uuid4(),
        "channel": rng.choice(["phone", "email", "web"]),
        "category": rng.choice(["delivery", "billing", "product_quality", "other"]),
        "severity": rng.choice(["low", "medium", "high", "critical"]),
        "description": "seeded",
        "status": "resolved" if resolved else "in_progress",
        "escalated": False,
        "escalation_level": 0,
        "opened_at": opened,
        "first_responded_at": responded,
        "resolved_at": resolved,
        "deadline_source": "policy",
        "first_response_due_at": opened + timedelta(hours=2),
        "resolution_due_at": opened + timedelta(days=2),
        "pauses": [],
        "created_by": "bench",
        "created_at": opened,
        "updated_at": opened,
        "version": 1,
    }


def _response(rng: random.Random, survey_id: uuid.UUID) -> dict[str, Any]:
    e, p = rng.randint(1, 5), rng.randint(1, 5)
    answers = {
        "recommend": rng.randint(0, 10),
        "overall": rng.randint(1, 5),
        "speed": {"expectation": e, "perception": p},
    }
    return {
        "id": uuid.uuid4(),
        "survey_id": survey_id,
        "survey_version": 1,
        "customer_id": uuid.uuid4(),
        "channel": "online",
        "answers": answers,
        "nps_score": answers["recommend"],
        "csat_score": float(answers["overall"]),
        "satisfaction_index": p / e,
        "responded_at": END - timedelta(minutes=rng.randrange(365 * 24 * 60)),
        "created_at": END,
    }


async def _seed(app: Any, complaints: int, responses: int) -> uuid.UUID:
    rng = random.Random(7)  # noqa: S311 - reproducible test data, not security
    survey_id = uuid.uuid4()
    async with app.state.sessionmaker.begin() as session:
        await session.execute(
            insert(Survey).values(
                id=survey_id,
                title="bench",
                kind="satisfaction",
                active=True,
                current_version=1,
                created_by="bench",
                created_at=END,
                updated_at=END,
                version=1,
            )
        )
        await session.execute(
            insert(SurveyVersion).values(
                id=uuid.uuid4(), survey_id=survey_id, number=1, questions=QUESTIONS, created_at=END
            )
        )
        for start in range(0, complaints, 5000):
            await session.execute(insert(Complaint), [_complaint(rng) for _ in range(min(5000, complaints - start))])
        for start in range(0, responses, 5000):
            rows = [_response(rng, survey_id) for _ in range(min(5000, responses - start))]
            await session.execute(insert(SurveyResponse), rows)
    return survey_id


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--complaints", type=int, default=20_000)
    parser.add_argument("--responses", type=int, default=50_000)
    parser.add_argument("--postgres", help="server URL; a scratch database is created and dropped")
    args = parser.parse_args()
    backend = "postgres" if args.postgres else "sqlite"
    if args.postgres:
        import os

        os.environ["CRM_TEST_POSTGRES_URL"] = args.postgres
    with tempfile.TemporaryDirectory() as tmp:
        async with scratch_database(backend, Path(tmp), "benchfeedback") as url:
            await migrate(ALEMBIC_INI, url)
            app = create_app(
                Settings(database_url=url, consume_events=False, run_sla_checks=False, log_level="WARNING")
            )
            async with app.router.lifespan_context(app):
                survey_id = await _seed(app, args.complaints, args.responses)
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://f", headers=internal_headers()
                ) as client:
                    period = {"from": "2025-11-26T00:00:00Z", "to": "2026-11-26T00:00:00Z"}
                    targets = {
                        "GET /analytics/satisfaction (month)": ("/analytics/satisfaction", period),
                        "GET /analytics/satisfaction (week)": (
                            "/analytics/satisfaction",
                            {**period, "interval": "week"},
                        ),
                        "GET /analytics/complaints (month)": ("/analytics/complaints", period),
                        "GET /surveys/{id}/report": (f"/surveys/{survey_id}/report", {}),
                        "GET /surveys/{id}/report?format=html": (f"/surveys/{survey_id}/report", {"format": "html"}),
                    }
                    print(f"{backend}: {args.complaints} complaints, {args.responses} responses over one year")
                    print("| endpoint | median ms | min ms |\n| --- | ---: | ---: |")
                    for name, (path, params) in targets.items():
                        (await client.get(path, params=params, headers=internal_headers())).raise_for_status()
                        times = []
                        for _ in range(5):
                            started = time.perf_counter()
                            (await client.get(path, params=params, headers=internal_headers())).raise_for_status()
                            times.append((time.perf_counter() - started) * 1000)
                        print(f"| {name} | {statistics.median(times):.0f} | {min(times):.0f} |")


if __name__ == "__main__":
    asyncio.run(main())
