"""Model validation on the published CDNOW calibration/holdout split, and the BG/NBD's predictions
against `lifetimes` (reference values computed once with lifetimes 0.11.3, see data/README.md)."""

from __future__ import annotations

import itertools
import uuid
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.dates import start_of_day
from crm_scoring.models import bgnbd_predict, validation
from crm_scoring.models.bgnbd import BgNbdParams
from crm_scoring.readmodel.models import CustomerRef, OrderFact

Maker = async_sessionmaker[AsyncSession]
SAMPLE = Path(__file__).parent / "data" / "CDNOW_sample.txt"

# (t, x, t_x, T, E[X(t) | x, t_x, T], P(alive | x, t_x, T), E[X(t)]) from lifetimes with
# r=0.243, alpha=4.414, a=0.793, b=2.426, on random inputs (numpy default_rng(2026))
LIFETIMES = [
    (32.02, 12.0, 11.71, 18.42, 2.3567959199271415, 0.1929855322185321, 1.0456972730725602),
    (26.42, 9.0, 39.89, 52.99, 2.0304337033575677, 0.545359217402448, 0.9130684041086767),
    (40.13, 1.0, 20.63, 40.05, 0.5753097937076378, 0.5998012839666603, 1.2199071121675578),
    (1.76, 4.0, 27.08, 32.79, 0.15276991564768294, 0.7713886399420946, 0.09161818738828065),
    (27.41, 2.0, 14.18, 31.62, 0.7218396660647852, 0.4948258970930206, 0.9373724631431483),
    (22.55, 14.0, 21.78, 64.29, 8.892875481329101e-05, 2.1100103877304122e-05, 0.8140251679822221),
    (12.53, 10.0, 20.26, 72.89, 0.00018884006907347336, 0.00011979152079596509, 0.5190077752817857),
    (36.1, 13.0, 4.14, 18.3, 0.0006355830322929564, 4.3971829798995734e-05, 1.1356841199268135),
]


def test_bgnbd_predictions_match_lifetimes_on_random_inputs() -> None:
    params = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    t, x, t_x, T, expected, alive, unconditional = (np.array(column) for column in zip(*LIFETIMES, strict=True))
    got = bgnbd_predict.expected_purchases(params, t, x, t_x, T, one_time_rule=False)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    np.testing.assert_allclose(bgnbd_predict.p_alive(params, x, t_x, T, one_time_rule=False), alive, rtol=1e-6)
    np.testing.assert_allclose(validation.expected_unconditional(params, t), unconditional, rtol=1e-6)


async def load_cdnow(db: Maker) -> int:
    """The raw CDNOW log into the read model (each line an order at midnight of its day)."""
    customers: dict[str, uuid.UUID] = {}
    orders = []
    for line in SAMPLE.read_text().splitlines():
        master, _sample, day, _quantity, amount = line.split()
        cid = customers.setdefault(master, uuid.uuid4())
        when = start_of_day(date(int(day[:4]), int(day[4:6]), int(day[6:])))
        value = Decimal(amount)
        orders.append(
            {"id": uuid.uuid4(), "customer_id": cid, "occurred_at": when, "amount": value, "net_amount": value}
            | {"currency": "USD", "margin": None, "version": 1, "deleted": False}
        )
    first = orders[0]["occurred_at"]
    people = [
        {"id": cid, "kind": "individual", "display_name": f"CDNOW {master}", "version": 1, "updated_at": first}
        | {"deleted": False, "erased": False}
        for master, cid in customers.items()
    ]
    async with db.begin() as session:
        await session.execute(insert(CustomerRef), people)
        for start in range(0, len(orders), 2000):
            await session.execute(insert(OrderFact), orders[start : start + 2000])
    return len(customers)


PER_DAY_ACTUAL = 37.2747664939137  # pandas on the log: mean of each holdout buyer's spend per day
# lifetimes 0.11.3 on the same split (daily periods, weeks): class size, actual and predicted mean
CLASSES = [
    ("0", 1411, 0.236712, 0.225087),
    ("1", 439, 0.697039, 0.523131),
    ("2", 214, 1.392523, 1.044134),
    ("3", 100, 1.560000, 1.520280),
    ("4", 62, 2.532258, 2.163866),
    ("5", 38, 2.947368, 2.653846),
    ("6", 29, 3.862069, 3.504042),
    ("7+", 64, 6.359375, 6.157191),
]


async def test_a_backtest_on_the_cdnow_split_validates_as_the_literature_does(
    client: httpx.AsyncClient, db: Maker
) -> None:
    assert await load_cdnow(db) == 2357
    body = {"as_of": "1997-09-30", "holdout_until": "1998-06-30"}
    started = await client.post("/scoring/runs", json=body)
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    job = (await client.get(f"/scoring/runs/{run_id}")).json()
    assert job["status"] == "succeeded" and job["mode"] == "backtest", job
    assert "validate" in job["timings"]

    result = (await client.get(f"/scoring/runs/{run_id}/validation")).json()
    assert result["customers"] == 2357 and result["holdout_length"] == pytest.approx(39.0)
    zero = result["by_frequency"][0]
    # Fader, Hardie & Lee (2005): 1,411 customers without a repeat purchase made 334 purchases in
    # the holdout; BG/NBD predicts about 0.23 each
    assert (zero["customers"], zero["actual_purchases"]) == (1411, 334)
    assert zero["predicted_mean"] == pytest.approx(0.23, abs=0.01)
    for got, (name, n, actual, predicted) in zip(result["by_frequency"], CLASSES, strict=True):
        assert (got["frequency"], got["customers"]) == (name, n)
        assert got["actual_mean"] == pytest.approx(actual, abs=1e-6)
        assert got["predicted_mean"] == pytest.approx(predicted, rel=0.01)
        # the card's one-time-buyer allowance lowers only the class-0 prediction
        if name == "0":
            assert got["predicted_mean_with_one_time_rule"] < got["predicted_mean"]
        else:
            assert got["predicted_mean_with_one_time_rule"] == pytest.approx(got["predicted_mean"])
    assert result["actual_total"] == 1882 and result["predicted_total"] == pytest.approx(1653.41, rel=0.01)
    errors = result["errors"]
    assert errors["mean_absolute_error"] == pytest.approx(0.78545, rel=0.01)
    assert errors["correlation"] == pytest.approx(0.62565, abs=0.005)
    assert errors["aggregate_error_percent"] == pytest.approx((1653.41 - 1882) / 1882 * 100, abs=1.0)

    # those who bought in the holdout, spend per purchase day (the Gamma-Gamma's unit here; lifetimes'
    # calibration_and_holdout_data averages per transaction, 36.41); predicted: lifetimes' Gamma-Gamma
    spend = result["spend"]
    assert spend["customers"] == 684 and spend["actual_mean"] == pytest.approx(PER_DAY_ACTUAL, rel=1e-6)
    assert spend["predicted_mean"] == pytest.approx(35.524, rel=0.01)

    tracking = result["tracking"]
    assert tracking["calibration_weeks"] == pytest.approx(272 / 7)
    points = tracking["points"]
    assert [p["week"] for p in points] == list(range(1, len(points) + 1)) and len(points) == 78
    assert all(a["actual"] <= b["actual"] and a["predicted"] <= b["predicted"] for a, b in itertools.pairwise(points))
    assert points[-1]["actual"] == 4339 and points[-1]["predicted"] == pytest.approx(4160.6, rel=0.01)
    at_split = next(p for p in points if p["day"] >= date(1997, 9, 30).toordinal())
    assert at_split["actual"] == pytest.approx(2457, abs=60)  # the week that holds the split

    drawn = await client.get(f"/scoring/runs/{run_id}/validation", params={"format": "svg"})
    assert drawn.status_code == 200 and drawn.headers["content-type"].startswith("image/svg+xml")
    svg = ET.fromstring(drawn.text)
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert "repeat purchases in calibration" in texts and "week" in texts and "end of calibration" in texts
    assert "0 (n=1411)" in texts and "7+ (n=64)" in texts
    assert len(list(svg.iter("{http://www.w3.org/2000/svg}polyline"))) == 2

    model = (await client.get(f"/scoring/runs/{run_id}/model")).json()
    fitted = model["bgnbd"]["parameters"]
    assert fitted == pytest.approx({"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259}, rel=0.01)


async def test_a_holdout_is_for_backtests_within_the_past(client: httpx.AsyncClient) -> None:
    cases = [
        ({"holdout_until": "2020-01-01"}, "holdout_needs_as_of"),
        ({"as_of": "2020-01-01", "holdout_until": "2019-12-31"}, "holdout_before_as_of"),
        ({"as_of": "2020-01-01", "holdout_until": "2020-01-01"}, "holdout_before_as_of"),
        (
            {"as_of": "2020-01-01", "holdout_until": (date.today() + timedelta(days=30)).isoformat()},
            "holdout_in_future",
        ),
    ]
    for body, code in cases:
        refused = await client.post("/scoring/runs", json=body)
        assert refused.status_code == 422 and refused.json()["code"] == code, (body, refused.text)
    assert (await client.get("/scoring/runs")).json()["items"] == []
    started = await client.post("/scoring/runs", json={"as_of": "2020-01-01"})
    missing = await client.get(f"/scoring/runs/{started.json()['id']}/validation")
    assert missing.status_code == 404 and missing.json()["code"] == "no_validation"
    assert (await client.get(f"/scoring/runs/{started.json()['id']}/validation?format=png")).status_code == 422
