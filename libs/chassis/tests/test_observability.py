"""Trace context, log lines, OTLP export, and the chassis's metrics of background work."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from prometheus_client import REGISTRY, CollectorRegistry
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis import tracing
from crm_chassis.consumer import HttpFeedSource
from crm_chassis.consumer_lag import LagReportingSource
from crm_chassis.db import create_engine, create_sessionmaker, make_metadata
from crm_chassis.events import OutboxSignal
from crm_chassis.feed import feed_router
from crm_chassis.logging import JsonFormatter
from crm_chassis.metrics import JOBS, OutboxMetrics, exposition
from crm_chassis.middleware import RequestContextMiddleware
from crm_chassis.tables import infra_tables

metadata = make_metadata("obstest")
infra = infra_tables(metadata)
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"00-{TRACE}-{PARENT}-01", (TRACE, PARENT, "01")),
        (f"00-{TRACE}-{PARENT}-00", (TRACE, PARENT, "00")),
        (f"01-{TRACE}-{PARENT}-01-later-fields", (TRACE, PARENT, "01")),  # a later version may add fields
        (f"00-{TRACE}-{PARENT}-01-extra", None),  # version 00 has exactly four
        (f"ff-{TRACE}-{PARENT}-01", None),
        (f"00-{'0' * 32}-{PARENT}-01", None),
        (f"00-{TRACE}-{'0' * 16}-01", None),
        (f"00-{TRACE.upper()}-{PARENT}-01", None),
        ("garbage", None),
        ("", None),
        (None, None),
    ],
)
def test_traceparent_parsing_follows_the_w3c_rules(value, expected):
    assert tracing.parse(value) == expected


def test_a_request_continues_a_valid_trace_with_a_span_of_its_own():
    continued = tracing.start(f"00-{TRACE}-{PARENT}-01")
    fresh = tracing.start("nonsense")

    assert (continued.trace_id, continued.parent_id) == (TRACE, PARENT)
    assert continued.span_id != PARENT and len(continued.span_id) == 16
    assert continued.traceparent == f"00-{TRACE}-{continued.span_id}-01"
    assert fresh.parent_id is None and len(fresh.trace_id) == 32 and fresh.trace_id != TRACE


def _traced_app(downstream: httpx.AsyncBaseTransport, spans: tracing.SpanExport | None = None) -> FastAPI:
    app = FastAPI()

    @app.get("/work")
    async def work(request: Request) -> dict[str, str]:
        logging.getLogger("crm.test").warning("working")
        async with httpx.AsyncClient(transport=downstream, event_hooks={"request": [tracing.inject]}) as client:
            answer = await client.get("http://downstream.test/next")
        return {"downstream_saw": answer.json()["traceparent"]}

    app.add_middleware(RequestContextMiddleware, spans=spans)
    return app


def _downstream() -> httpx.MockTransport:
    return httpx.MockTransport(lambda r: httpx.Response(200, json={"traceparent": r.headers.get("traceparent")}))


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter("test"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield out
    root.removeHandler(handler)
    root.setLevel(old_level)


async def test_every_log_line_of_a_request_and_every_call_it_makes_carry_its_trace(log_lines):
    app = _traced_app(_downstream())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://svc.test") as client:
        response = await client.get("/work", headers={"traceparent": f"00-{TRACE}-{PARENT}-01"})

    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    mine = [line for line in lines if line["logger"] in {"crm.test", "crm.access"}]
    assert [line["msg"] for line in mine] == ["working", "request"]
    assert {line["trace_id"] for line in mine} == {TRACE}
    [span_id] = {line["span_id"] for line in mine}
    assert span_id != PARENT
    # the call made while handling it is a child of this request's span
    assert response.json()["downstream_saw"] == f"00-{TRACE}-{span_id}-01"


async def test_outside_a_request_nothing_is_injected():
    request = httpx.Request("GET", "http://x.test/")
    await tracing.inject(request)
    assert "traceparent" not in request.headers


async def _serve(app: FastAPI) -> AsyncIterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


async def test_with_an_otlp_endpoint_each_request_is_exported_as_a_server_span(monkeypatch):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    received: list[bytes] = []
    collector = FastAPI()

    @collector.post("/v1/traces")
    async def traces(request: Request) -> dict[str, str]:
        received.append(await request.body())
        return {}

    serving = _serve(collector)
    url = await anext(serving)
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "crm-test")
        spans = tracing.span_export("test")
        assert spans is not None
        app = _traced_app(_downstream(), spans)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://svc.test") as client:
            response = await client.get("/work", headers={"traceparent": f"00-{TRACE}-{PARENT}-01"})
        assert await asyncio.to_thread(spans.flush)
        await asyncio.to_thread(spans.shutdown)
    finally:
        await serving.aclose()

    exported = [
        span
        for body in received
        for resource in ExportTraceServiceRequest.FromString(body).resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    [span] = exported
    child_parent = response.json()["downstream_saw"].split("-")[2]
    assert span.trace_id.hex() == TRACE
    assert span.parent_span_id.hex() == PARENT
    assert span.span_id.hex() == child_parent  # the id the downstream call named as its parent
    assert span.name == "GET /work"
    assert span.kind == span.SPAN_KIND_SERVER


def test_without_an_endpoint_there_is_no_export(monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert tracing.span_export("test") is None


def _job_count(kind: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("crm_jobs_total", {"kind": kind, "outcome": outcome}) or 0.0


async def test_jobs_are_counted_by_kind_and_outcome_with_durations():
    kind = f"test-{uuid.uuid4().hex[:6]}"
    async with JOBS.track(kind):
        pass
    with pytest.raises(RuntimeError):
        async with JOBS.track(kind):
            raise RuntimeError("boom")
    async with JOBS.track(kind) as outcome:
        outcome("skipped")
    task = asyncio.create_task(asyncio.sleep(10))

    async def cancelled() -> None:
        async with JOBS.track(kind):
            await task

    runner = asyncio.create_task(cancelled())
    await asyncio.sleep(0)
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner

    assert [_job_count(kind, o) for o in ("succeeded", "failed", "skipped", "cancelled")] == [1, 1, 1, 1]
    count = REGISTRY.get_sample_value("crm_job_duration_seconds_count", {"kind": kind, "outcome": "succeeded"})
    assert count == 1


@pytest.fixture
async def outbox_db(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'o.db'}", "obstest")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def _add_events(sessionmaker: async_sessionmaker[AsyncSession], occurred: list[datetime]) -> None:
    async with sessionmaker.begin() as session:
        for i, at in enumerate(occurred):
            values = {"id": uuid.uuid4(), "type": "t.happened", "aggregate_id": "a", "version": i + 1}
            await session.execute(insert(infra.outbox).values(**values, occurred_at=at, data={}))


async def test_the_outbox_gauges_give_size_head_and_each_relays_backlog_and_lag(outbox_db):
    now = datetime(2030, 1, 1, tzinfo=UTC)
    await _add_events(outbox_db, [now - timedelta(seconds=s) for s in (50, 40, 30, 20, 10)])
    async with outbox_db.begin() as session:
        await session.execute(insert(infra.relay_cursor).values(relay="nats", last_seq=2, updated_at=now))
        await session.execute(insert(infra.relay_cursor).values(relay="done", last_seq=5, updated_at=now))
    registry = CollectorRegistry()
    metrics = OutboxMetrics(registry)

    await metrics.refresh(outbox_db, infra, now=now)

    assert registry.get_sample_value("crm_outbox_events") == 5
    assert registry.get_sample_value("crm_outbox_head_seq") == 5
    assert registry.get_sample_value("crm_outbox_relay_backlog_events", {"relay": "nats"}) == 3
    assert registry.get_sample_value("crm_outbox_relay_lag_seconds", {"relay": "nats"}) == 30  # event 3
    assert registry.get_sample_value("crm_outbox_relay_backlog_events", {"relay": "done"}) == 0
    assert registry.get_sample_value("crm_outbox_relay_lag_seconds", {"relay": "done"}) == 0


async def test_consumer_lag_is_the_producers_head_minus_the_consumers_position(outbox_db):
    await _add_events(outbox_db, [datetime(2030, 1, 1, tzinfo=UTC)] * 5)
    producer = FastAPI()
    producer.state.read_sessionmaker = outbox_db
    producer.state.outbox_signal = OutboxSignal()
    producer.include_router(feed_router(infra.outbox, 0))
    name = f"lag-test-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(producer)) as client:
        source = LagReportingSource(HttpFeedSource(client, "http://producer.test", lambda: "token"), name)
        page = await source.fetch(after=2, limit=1, wait=0)
        behind = REGISTRY.get_sample_value("crm_consumer_lag_events", {"consumer": name})
        await source.fetch(after=5, limit=100, wait=0)
        caught_up = REGISTRY.get_sample_value("crm_consumer_lag_events", {"consumer": name})

    assert [event.seq for event in page] == [3]
    assert behind == 3
    assert caught_up == 0


def test_the_exposition_holds_the_apps_registry_and_the_process_metrics():
    registry = CollectorRegistry()
    OutboxMetrics(registry)
    text = exposition(registry).decode()
    assert "crm_outbox_events" in text
    assert "process_cpu_seconds_total" in text
    assert "crm_consumer_lag_events" in text
