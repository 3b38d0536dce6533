"""From an order posted through the gateway to the customer's score card showing it.

Starts the whole system (as `make run` does, on SQLite or on scratch PostgreSQL databases), creates
`--customers` customers through POST /customers/batch with two earlier orders each (a customer
has no card before it has facts to score), makes one live scoring run (the model the re-scoring
worker scores with) and reads each card, untimed. Then it posts single orders through
POST /orders at a steady `--rate` for `--seconds`, open loop: order i is due at start + i / rate,
sent at that wall time whatever the system is doing (a late one goes at once), each in its own
task over a pool of `--connections`.

What proves an order reached the card: the card's `purchases.total_spend` (net spend over every
order fact up to the scoring). Each order's amount is distinct (10.00 plus its sequence number in
cents), and the benchmark keeps, per customer, the total the card must show once that order is in
(its card's total before the run plus every amount posted to it so far). An order is reflected
when a card read shows at least that total. Orders go to the next customer, round-robin, that has
no order still waiting to show, so the total identifies one order; when every customer is waiting
(a system far behind) the next one in turn gets it anyway, and the run counts these.

Polling: one poller per customer with an order waiting, reading
GET /customers/{id}/scores through the gateway every `--poll-interval` s with If-None-Match, so
an unchanged card costs a 304 and no card rendering; at most `--poll-concurrency` reads are in
flight at once, on a pool of their own (a bound on the polling's share of the machine; on an
overloaded system the reads slow down with it). A reading is
late by up to one interval (half of it on average) plus the read's own time; the run prints the
reads it made, and `--poll-interval` shows how much they weigh (compare two intervals).

Printed: p50, p95, p99 and max of the time from the POST's 201 answer to the card, and from the
moment the POST was sent; orders, orders not on their card within `--timeout` s, the send rate
achieved, how late the sender was, the POST statuses, and from the services' /metrics the
scoring service's re-scoring rounds and each process's CPU over the timed part. Exits 1 when an order never arrived or a
POST failed. The target: p95 from the 201 ≤ 500 ms at 50 orders/s for 60 s.

The admin's rate limits are lifted so that the run measures the system, not the limiter;
`--env NAME=VALUE` passes more settings to the services (e.g. CRM_SCORING_RESCORE_INTERVAL_SECONDS).
Usage: python bench/bench_order_to_card.py [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from harness import PORTS, running_system

UNLIMITED = {"CRM_GATEWAY_RATE_LIMIT_PER_MINUTE": "100000000"}
UNLIMITED["CRM_GATEWAY_RATE_LIMITS"] = json.dumps({"orders.batch": 100_000_000, "customers.batch": 100_000_000})


@dataclass
class Order:
    seq: int
    customer: str
    amount_cents: int
    due: float  # when the schedule wanted it sent
    sent: float = 0.0
    answered: float = 0.0
    status: int = 0
    expected_cents: int = 0  # the card total once this order is in
    reflected: float | None = None


@dataclass
class Customer:
    id: str
    total_cents: int  # what the card must show once every order posted so far is in
    etag: str | None = None
    pending: deque[Order] = field(default_factory=deque)
    poller: asyncio.Task[None] | None = None


def cents(card: dict[str, Any]) -> int:
    return int(Decimal(str(card["purchases"]["total_spend"] or 0)) * 100)


def scrape(client: httpx.Client, url: str) -> dict[str, float]:
    """The scoring service's re-scoring rounds and applied events, from its /metrics."""
    wanted = ('crm_job_duration_seconds_count{kind="rescore"', 'crm_job_duration_seconds_sum{kind="rescore"')
    wanted += ('crm_consumer_events_applied_total{consumer="customer-events"}',)
    found: dict[str, float] = {}
    for line in client.get(f"{url}/metrics").text.splitlines():
        name, _, value = line.rpartition(" ")
        for prefix in wanted:
            if name.startswith(prefix) and 'outcome="failed"' not in name:
                found[prefix.split("{")[0]] = found.get(prefix.split("{")[0], 0.0) + float(value)
    return found


def cpu(client: httpx.Client, url: str) -> float:
    """CPU seconds the service's process has used."""
    for line in client.get(f"{url}/metrics").text.splitlines():
        if line.startswith("process_cpu_seconds_total "):
            return float(line.split()[1])
    return 0.0


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


class Run:
    def __init__(self, client: httpx.AsyncClient, poller: httpx.AsyncClient, args: argparse.Namespace) -> None:
        self.client = client  # the orders' own pool, so that card reads never queue behind them
        self.poller = poller
        self.args = args
        self.customers: list[Customer] = []
        self.orders: list[Order] = []
        self.polls: Counter[int] = Counter()
        self.poll_slots = asyncio.Semaphore(args.poll_concurrency)
        self.tasks: set[asyncio.Task[None]] = set()
        self.overlapping = 0
        self.next_customer = 0

    async def make_customers(self) -> None:
        """The customers, two earlier orders each (a card is written once a customer has facts to
        score), a live run for the model the re-scoring worker uses, and each one's card."""
        run = os.urandom(3).hex()
        items = [
            {"kind": "individual", "name": f"Card {i}", "external_ref": f"C-{run}-{i}"}
            for i in range(self.args.customers)
        ]
        response = await self.client.post("/api/v1/customers/batch", json={"items": items})
        response.raise_for_status()
        ids = [item["id"] for item in response.json()["items"]]
        history = [
            {
                "customer_id": cid,
                "external_ref": f"CH-{run}-{i}-{k}",
                "source": "bench",
                "occurred_at": f"2026-0{1 + (i + k * 3) % 5}-{1 + i % 28:02d}T10:00:00+08:00",
                "amount": f"{100 + i % 50}.00",
                "currency": "CNY",
            }
            for i, cid in enumerate(ids)
            for k in range(2)
        ]
        response = await self.client.post("/api/v1/orders/batch", json={"items": history})
        response.raise_for_status()
        deadline = time.monotonic() + 180
        for cid in ids:  # the first card of each, before anything is timed
            while (await self.client.get(f"/api/v1/customers/{cid}/scores")).status_code != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no first card for {cid}")
                await asyncio.sleep(0.1)
        scoring = await self.client.post("/api/v1/scoring/runs", json={})
        scoring.raise_for_status()
        while (status := (await self.client.get(f"/api/v1/scoring/runs/{scoring.json()['id']}")).json()["status"]) in (
            "queued",
            "running",
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("the scoring run did not end")
            await asyncio.sleep(0.2)
        if status != "succeeded":
            raise RuntimeError(f"the scoring run {status}")
        await asyncio.sleep(1)  # the worker's last re-scores of the history
        for i, cid in enumerate(ids):
            card = await self.client.get(f"/api/v1/customers/{cid}/scores")
            card.raise_for_status()
            self.customers.append(Customer(cid, cents(card.json()), card.headers.get("etag")))
            if self.customers[-1].total_cents != 2 * (100 + i % 50) * 100:
                raise RuntimeError(f"the card of {cid} does not show its history: {card.json()['purchases']}")

    def pick(self) -> Customer:
        n = len(self.customers)
        for step in range(n):
            customer = self.customers[(self.next_customer + step) % n]
            if not customer.pending:
                self.next_customer = (self.next_customer + step + 1) % n
                return customer
        customer = self.customers[self.next_customer]
        self.next_customer = (self.next_customer + 1) % n
        self.overlapping += 1
        return customer

    async def post(self, order: Order) -> None:
        customer = next(c for c in self.customers if c.id == order.customer)
        body = {
            "customer_id": order.customer,
            "external_ref": f"CO-{os.getpid()}-{order.seq}",
            "source": "bench",
            "occurred_at": self.args.occurred_at,
            "amount": f"{order.amount_cents / 100:.2f}",
            "currency": "CNY",
        }
        order.sent = time.perf_counter()
        try:
            response = await self.client.post("/api/v1/orders", json=body)
            order.status = response.status_code
        except httpx.HTTPError as exc:
            order.status = -1
            print(f"order {order.seq}: {exc!r}", file=sys.stderr)
        order.answered = time.perf_counter()
        if order.status != 201:
            customer.pending.remove(order)
            customer.total_cents -= order.amount_cents
            for later in customer.pending:
                if later.seq > order.seq:
                    later.expected_cents -= order.amount_cents

    async def poll(self, customer: Customer) -> None:
        """Read the card until nothing waits for it (or what waits has timed out)."""
        while customer.pending:
            async with self.poll_slots:
                headers = {"If-None-Match": customer.etag} if customer.etag else {}
                try:
                    response = await self.poller.get(f"/api/v1/customers/{customer.id}/scores", headers=headers)
                except httpx.HTTPError:
                    response = None
            now = time.perf_counter()
            if response is not None:
                self.polls[response.status_code] += 1
                if response.status_code == 200:
                    customer.etag = response.headers.get("etag")
                    total = cents(response.json())
                    while customer.pending and customer.pending[0].expected_cents <= total:
                        order = customer.pending.popleft()
                        order.reflected = now
            while customer.pending and self.expired(customer.pending[0], now):
                customer.pending.popleft()  # never reflected; counted as such
            if customer.pending:
                await asyncio.sleep(self.args.poll_interval)
        customer.poller = None

    def expired(self, order: Order, now: float) -> bool:
        if order.status:
            return now - order.answered > self.args.timeout
        return now - order.sent > self.args.post_timeout + self.args.timeout

    def spawn(self, coroutine: Any) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def send(self) -> float:
        total = int(self.args.rate * self.args.seconds)
        start = time.perf_counter()
        for seq in range(total):
            due = start + seq / self.args.rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            customer = self.pick()
            order = Order(seq, customer.id, 1000 + seq, due)
            customer.total_cents += order.amount_cents
            order.expected_cents = customer.total_cents
            customer.pending.append(order)
            self.orders.append(order)
            self.spawn(self.post(order))
            if customer.poller is None:
                customer.poller = self.spawn(self.poll(customer))
        return total / (time.perf_counter() - start)

    async def settle(self) -> None:
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=self.args.post_timeout + self.args.timeout + 5)
        for task in list(self.tasks):
            task.cancel()


def report(
    run: Run, rate: float, elapsed: float, backend: str, args: argparse.Namespace, work: dict[str, float]
) -> bool:
    orders = run.orders
    ok = [o for o in orders if o.status == 201]
    reflected = [o for o in ok if o.reflected is not None and o.reflected - o.answered <= args.timeout]
    # every created order counts; one not on its card in time counts as infinitely late
    late = [float("inf")] * (len(ok) - len(reflected))
    from_answer = [(o.reflected - o.answered) * 1000 for o in reflected if o.reflected is not None] + late
    from_sent = [(o.reflected - o.sent) * 1000 for o in reflected if o.reflected is not None] + late
    post = [(o.answered - o.sent) * 1000 for o in ok]
    lateness = [(o.sent - o.due) * 1000 for o in orders]
    missing = len(ok) - len(reflected)
    unanswered = sum(1 for o in orders if o.status in (0, -1))  # 0: still waiting at the end
    statuses = Counter(o.status for o in orders)
    reads = sum(run.polls.values())

    def ms(value: float) -> str:
        return f"{value:7.1f}" if value != float("inf") else f">{args.timeout * 1000:6.0f}"

    def row(name: str, values: list[float]) -> str:
        return (
            f"{name:<22} p50 {ms(quantile(values, 0.5))}  p95 {ms(quantile(values, 0.95))}"
            f"  p99 {ms(quantile(values, 0.99))}  max {ms(max(values, default=float('nan')))} ms"
        )

    print(f"\n{backend}, {args.customers} customers, {args.rate:g} orders/s for {args.seconds:g} s")
    print(row("201 -> card", from_answer))
    print(row("sent -> card", from_sent))
    print(row("POST (sent -> 201)", post))
    print(row("sender late by", lateness))
    print(
        f"orders {len(orders)}, created {len(ok)}, on their card {len(reflected)}, not within {args.timeout:g} s:"
        f" {missing}; POSTs never answered: {unanswered}; send rate {rate:.2f}/s;"
        f" POST statuses {dict(statuses)} (-1: failed, 0: no answer by the end)"
    )
    print(
        f"card reads {reads} ({reads / elapsed:.0f}/s, every {args.poll_interval * 1000:g} ms per waiting customer):"
        f" {dict(run.polls)}; orders to a customer already waiting: {run.overlapping}"
    )
    rounds = work.get("crm_job_duration_seconds_count", 0)
    busy = work.get("crm_job_duration_seconds_sum", 0)
    applied = work.get("crm_consumer_events_applied_total", 0)
    print(
        f"scoring meanwhile: {applied:.0f} customer events applied, {rounds:.0f} re-scoring rounds taking"
        f" {busy / rounds if rounds else 0:.3f} s each on average, busy {busy / elapsed:.0%} of the time"
    )
    shares = ", ".join(f"{k[4:]} {v / elapsed:.0%}" for k, v in work.items() if k.startswith("cpu "))
    print(f"CPU of one core while timed: {shares}")
    p95 = quantile(from_answer, 0.95)
    print(f"target p95 201 -> card <= 500 ms: {'met' if p95 <= 500 and not missing else 'NOT met'} ({p95:.0f} ms)")
    print(
        "RESULT "
        + json.dumps(
            {
                "backend": backend,
                "p50": quantile(from_answer, 0.5),
                "p95": p95,
                "p99": quantile(from_answer, 0.99),
                "max": max(from_answer, default=None),
                "sent_p50": quantile(from_sent, 0.5),
                "sent_p95": quantile(from_sent, 0.95),
                "sent_p99": quantile(from_sent, 0.99),
                "post_p95": quantile(post, 0.95),
                "orders": len(orders),
                "missing": missing,
                "unanswered": unanswered,
                "rate": rate,
                "statuses": {str(k): v for k, v in statuses.items()},
                "reads_per_s": reads / elapsed,
                "overlapping": run.overlapping,
                "rescore_rounds": rounds,
                "cpu": {k[4:]: v / elapsed for k, v in work.items() if k.startswith("cpu ")},
                "rescore_mean_s": busy / rounds if rounds else None,
                "load": os.getloadavg(),
            }
        )
    )
    return missing == 0 and len(ok) == len(orders)  # every order created and on its card in time


async def main_async(args: argparse.Namespace) -> bool:
    settings = dict(UNLIMITED)
    settings.update(item.split("=", 1) for item in args.env)
    with running_system(args.postgres, **settings) as system:
        headers = {"Authorization": f"Bearer {system.token()}"}
        posts = httpx.Limits(max_connections=args.connections, max_keepalive_connections=args.connections)
        reads = httpx.Limits(max_connections=args.poll_concurrency, max_keepalive_connections=args.poll_concurrency)
        async with (
            httpx.AsyncClient(
                base_url=system.gateway, headers=headers, timeout=args.post_timeout, limits=posts
            ) as client,
            httpx.AsyncClient(base_url=system.gateway, headers=headers, timeout=30, limits=reads) as poller,
        ):
            run = Run(client, poller, args)
            await run.make_customers()
            print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            with httpx.Client(timeout=30) as plain:
                before = scrape(plain, system.url("scoring"))
                cpu_before = {name: cpu(plain, system.url(name)) for name in PORTS}
            started = time.perf_counter()
            rate = await run.send()
            await run.settle()
            elapsed = time.perf_counter() - started
            with httpx.Client(timeout=30) as plain:
                work = {k: v - before.get(k, 0.0) for k, v in scrape(plain, system.url("scoring")).items()}
                work.update({f"cpu {name}": cpu(plain, system.url(name)) - cpu_before[name] for name in PORTS})
            print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            return report(run, rate, elapsed, system.backend, args, work)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", metavar="URL", help="run on PostgreSQL (scratch databases on this server)")
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0, help="orders per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds after its 201 an order may take")
    parser.add_argument("--poll-interval", type=float, default=0.05, help="seconds between reads of a waiting card")
    parser.add_argument("--poll-concurrency", type=int, default=16, help="card reads in flight at most")
    parser.add_argument(
        "--connections", type=int, default=256, help="connections for the orders (enough that none waits for one)"
    )
    parser.add_argument("--post-timeout", type=float, default=30.0, help="seconds a POST may take (the gateway's)")
    parser.add_argument("--occurred-at", default="2026-06-01T10:00:00+08:00", help="the orders' time (in the past)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="a setting for the services")
    args = parser.parse_args()
    return 0 if asyncio.run(main_async(args)) else 1


if __name__ == "__main__":
    sys.exit(main())
