"""Where a proxied GET /customers/{id} spends the gateway's time: py-spy samples the gateway
process while wrk reads through it, and the stacks are summed per function.

Usage: python bench/profile_gateway.py [--connections 2] [--seconds 10] [--postgres URL]
[--set CRM_X=VALUE] [--raw FILE]. Needs wrk and py-spy (a dev dependency). Prints the share of samples in
which each function was on the stack (inclusive) and at the top (self), largest first.
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from harness import PORTS, listening_pid, running_system

ROOT = Path(__file__).resolve().parents[1]


def summarise(collapsed: Path, top: int) -> None:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = [re.sub(r" \((.*/)?(site-packages/|src/)?", " (", f) for f in stack.split(";")]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    print(f"{total} samples")
    for title, counter in (("inclusive", inclusive), ("self", own)):
        print(f"\n{title}:")
        for frame, count in counter.most_common(top):
            print(f"{100 * count / total:6.1f}%  {frame}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument("--postgres", metavar="URL")
    parser.add_argument("--set", action="append", default=[], metavar="CRM_X=VALUE")
    parser.add_argument("--raw", type=Path, metavar="FILE", help="also keep py-spy's collapsed stacks here")
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.set)
    with running_system(args.postgres, **{"CRM_GATEWAY_RATE_LIMIT_PER_MINUTE": "100000000", **extra}) as system:
        access = system.token()
        header = f"Authorization: Bearer {access}"
        with httpx.Client(base_url=system.gateway, timeout=10) as client:
            body = {"kind": "individual", "name": "Profiled Customer"}
            response = client.post("/api/v1/customers", json=body, headers={"Authorization": f"Bearer {access}"})
            customer_id = response.json()["id"]
        url = f"{system.gateway}/api/v1/customers/{customer_id}"
        wrk = ["wrk", "-t2", f"-c{args.connections}", "--latency", "-H", header, url]
        subprocess.run([*wrk, "-d2s"], capture_output=True, check=True)  # warm-up
        pid = listening_pid(PORTS["gateway"])
        with tempfile.TemporaryDirectory() as tmp:
            collapsed = Path(tmp) / "gateway.txt"
            spy = subprocess.Popen(
                [
                    "py-spy",
                    "record",
                    "-p",
                    str(pid),
                    "-d",
                    str(args.seconds),
                    "-r",
                    "200",
                    "--gil",
                    "-f",
                    "raw",
                    "-o",
                    str(collapsed),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            out = subprocess.run([*wrk, f"-d{args.seconds}s"], capture_output=True, text=True, check=True).stdout
            spy.wait()
            print(out)
            summarise(collapsed, args.top)
            if args.raw is not None:
                args.raw.write_text(collapsed.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
