"""Does an atomic import block other writers? The p99 of single customer writes during a large
atomic customers import, against the same writes with no import running (same run), plus the
import's own time and the service's peak memory.

The customer service runs as its own process (`python -m crm_chassis.serve`, as `make run` starts
it) on a fresh, migrated database; this process uploads the file with `atomic=true` and, from a
second thread, sends `POST /customers` one after the other (50 ms apart) until the import ends.

Usage: python bench/bench_import_blocking.py [--rows 150000] [--runs 3] [--backend sqlite|postgres|both]
       [--postgres postgresql://postgres@127.0.0.1:5432/postgres]   (default: $CRM_TEST_POSTGRES_URL)
`--rows 1000000 --backend postgres --no-writes` is the 1M-row import on its own (time, peak memory).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SECRET = "bench-import-blocking-internal-secret-0123456789"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def headers() -> dict[str, str]:
    from crm_chassis.testing import internal_headers

    return internal_headers(secret=SECRET)


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write("external_ref,name,kind,email\n")
        for i in range(rows):
            f.write(f"IMP-{i},Imported {i},individual,imported-{i}@example.com\n")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def writes_until(
    url: str, stop: threading.Event, latencies: list[float], limit: int | None = None, refused: list[int] | None = None
) -> None:
    """Single creates one after the other, 50 ms apart: the latency of each that succeeded, and the
    status of each that did not (a 503 `database_busy` when SQLite's writer stayed taken too long)."""
    with httpx.Client(base_url=url, timeout=300) as client:
        while not stop.is_set() and (limit is None or len(latencies) < limit):
            began = time.perf_counter()
            response = client.post("/customers", json={"kind": "individual", "name": "Walk-in"}, headers=headers())
            if response.status_code == 201:
                latencies.append(time.perf_counter() - began)
            elif refused is not None and response.status_code >= 500:
                refused.append(response.status_code)
            else:
                raise AssertionError(response.text)
            time.sleep(0.05)


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 2 else (values[0] if values else float("nan"))


async def one_run(backend: str, rows: int, postgres: str | None, with_writes: bool) -> dict[str, float]:
    from crm_chassis.testing import migrate, scratch_database

    if backend == "postgres" and postgres:
        os.environ["CRM_TEST_POSTGRES_URL"] = postgres
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        async with scratch_database(backend, tmp, "bench_blocking") as url:
            await migrate(ROOT / "services/customer/alembic.ini", url)
            return await asyncio.to_thread(measure, url, tmp, rows, with_writes)


def measure(url: str, tmp: Path, rows: int, with_writes: bool) -> dict[str, float]:
    csv_path = tmp / "customers.csv"
    write_csv(csv_path, rows)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env.update(
        CRM_CUSTOMER_DATABASE_URL=url,
        CRM_INTERNAL_SECRET=SECRET,
        CRM_DATA_DIR=str(tmp),
        CRM_LOG_LEVEL="WARNING",
        CRM_CUSTOMER_IMPORT_MAX_BYTES=str(2**31),
    )
    command = [sys.executable, "-m", "crm_chassis.serve", "crm_customer.main:create_app", "--port", str(port)]
    log = (tmp / "service.log").open("w")
    service = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        baseline: list[float] = []
        if with_writes:
            writes_until(base, threading.Event(), baseline, limit=100)
        rss_before = rss_mib(service.pid)
        stop, during, refused = threading.Event(), list[float](), list[int]()
        writer = threading.Thread(target=writes_until, args=(base, stop, during, None, refused))
        with httpx.Client(base_url=base, timeout=600) as client:
            started = time.perf_counter()
            with csv_path.open("rb") as f:
                response = client.post(
                    "/imports",
                    params={"kind": "customers", "atomic": "true"},
                    files={"file": ("customers.csv", f, "text/csv")},
                    headers=headers(),
                )
            assert response.status_code == 202, response.text
            if with_writes:
                writer.start()
            while True:
                job = client.get(response.headers["location"], headers=headers()).json()
                if job["status"] in ("succeeded", "failed"):
                    break
                time.sleep(0.5)
            import_s = time.perf_counter() - started
            stop.set()
            if with_writes:
                writer.join()
        assert job["status"] == "succeeded" and job["counts"]["created"] == rows, job
        return {
            "import_s": import_s,
            "rows_per_s": rows / import_s,
            "writes": len(during),
            "refused": len(refused),
            "p99_s": p99(during),
            "max_s": max(during, default=float("nan")),
            "baseline_p99_s": p99(baseline),
            "rss_before_mib": rss_before,
            "peak_rss_mib": peak_rss_mib(service.pid),
        }
    finally:
        service.terminate()
        service.wait(timeout=60)
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=150_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--postgres", default=os.environ.get("CRM_TEST_POSTGRES_URL"))
    parser.add_argument("--no-writes", action="store_true", help="time the import alone")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    print(f"atomic import of {args.rows:,} customers; median of {args.runs} runs")
    columns = ["database", "import s", "rows/s", "writes during", "refused", "p99 s", "max s", "baseline p99 s"]
    columns += ["RSS MiB before", "peak"]
    print("| " + " | ".join(columns) + " |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for backend in backends:
        runs = [asyncio.run(one_run(backend, args.rows, args.postgres, not args.no_writes)) for _ in range(args.runs)]
        med = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        cells = [f"{med['import_s']:.1f}", f"{med['rows_per_s']:.0f}", f"{med['writes']:.0f}", f"{med['refused']:.0f}"]
        cells += [f"{med['p99_s']:.3f}"]
        cells += [f"{med['max_s']:.3f}", f"{med['baseline_p99_s']:.3f}", f"{med['rss_before_mib']:.0f}"]
        cells += [f"{med['peak_rss_mib']:.0f}"]
        print(f"| {backend} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
