"""Run the whole system on this machine: migrate, start the four processes, stop them together.

Used by `make run` and by the end-to-end tests. Ports, data folder and the demo admin come from
the environment (CRM_GATEWAY_PORT, CRM_CUSTOMER_PORT, CRM_SCORING_PORT, CRM_FEEDBACK_PORT,
CRM_DATA_DIR, CRM_BOOTSTRAP_ADMIN_EMAIL, CRM_BOOTSTRAP_ADMIN_PASSWORD). The internal and JWT secrets are
made on the first start into the data folder (`internal_secret`, `jwt_secret`, mode 0600) and reused
after, unless CRM_INTERNAL_SECRET or CRM_GATEWAY_JWT_SECRET is set.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_ADMIN_EMAIL = "admin@example.com"
DEMO_ADMIN_PASSWORD = "demo-admin-password"
SECRETS = {"CRM_INTERNAL_SECRET": "internal_secret", "CRM_GATEWAY_JWT_SECRET": "jwt_secret"}  # variable: file
SERVICES = {  # name: (app factory, alembic.ini, default port)
    "customer": ("crm_customer.main:create_app", ROOT / "services/customer/alembic.ini", 8001),
    "scoring": ("crm_scoring.main:create_app", ROOT / "services/scoring/alembic.ini", 8002),
    "feedback": ("crm_feedback.main:create_app", ROOT / "services/feedback/alembic.ini", 8003),
    "gateway": ("crm_gateway.main:create_app", ROOT / "gateway/alembic.ini", 8000),
}


def _port(name: str) -> int:
    return int(os.environ.get(f"CRM_{name.upper()}_PORT", SERVICES[name][2]))


def build_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("CRM_DATA_DIR", str(ROOT / "var"))
    env.setdefault("CRM_BOOTSTRAP_ADMIN_EMAIL", DEMO_ADMIN_EMAIL)
    env.setdefault("CRM_BOOTSTRAP_ADMIN_PASSWORD", DEMO_ADMIN_PASSWORD)
    data_dir = Path(env["CRM_DATA_DIR"])
    data_dir.mkdir(parents=True, exist_ok=True)
    # Made on the first start, kept in the data folder (mode 0600) and reused after, so that tokens
    # outlive a restart and nothing signs with a secret anyone could read in the source.
    for variable, name in SECRETS.items():
        if not env.get(variable):
            env[variable] = stored_secret(data_dir / name)
    env.setdefault("CRM_HTTP_GRACEFUL_SECONDS", "5")
    # a frontend's development server on this machine may call the API from the browser
    env.setdefault("CRM_GATEWAY_CORS_ORIGINS", "http://localhost:5173,http://127.0.0.1:5173")
    customer_url = f"http://127.0.0.1:{_port('customer')}"
    for service in ("scoring", "feedback", "gateway"):
        env.setdefault(f"CRM_{service.upper()}_CUSTOMER_URL", customer_url)
    scoring_url = f"http://127.0.0.1:{_port('scoring')}"
    feedback_url = f"http://127.0.0.1:{_port('feedback')}"
    for service in ("gateway", "feedback", "customer"):
        env.setdefault(f"CRM_{service.upper()}_SCORING_URL", scoring_url)
    for service in ("gateway", "scoring"):
        env.setdefault(f"CRM_{service.upper()}_FEEDBACK_URL", feedback_url)
    # the customer service follows the gateway's feed of user accounts
    env.setdefault("CRM_CUSTOMER_GATEWAY_URL", f"http://127.0.0.1:{_port('gateway')}")
    return env


def stored_secret(path: Path) -> str:
    """The secret kept at `path`, made (random, 48 bytes, readable by this user only) if there is none."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)  # a secret others can read is one no longer: close it again
            print(f"{path} was readable by others; its mode is now 0600", file=sys.stderr)
        value = path.read_text().strip()
        if len(value) < 32:
            raise SystemExit(
                f"{path} holds no usable secret (fewer than 32 characters): remove it to make a new one"
            ) from None
        return value
    value = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as out:
        out.write(value + "\n")
    return value


def migrate(env: dict[str, str]) -> None:
    for _, alembic_ini, _ in SERVICES.values():
        subprocess.run(
            [sys.executable, "-m", "alembic", "-c", str(alembic_ini), "upgrade", "head"], env=env, check=True
        )


def start(env: dict[str, str]) -> dict[str, subprocess.Popen[bytes]]:
    processes = {}
    for name, (factory, _, _) in SERVICES.items():
        command = [sys.executable, "-m", "crm_chassis.serve", factory, "--port", str(_port(name))]
        processes[name] = subprocess.Popen(command, env=env)
    return processes


def wait_healthy(processes: dict[str, subprocess.Popen[bytes]], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    pending = set(processes)
    while pending:
        for name in list(pending):
            if processes[name].poll() is not None:
                raise RuntimeError(f"{name} exited with code {processes[name].returncode} while starting")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{_port(name)}/healthz", timeout=1) as response:
                    if response.status == 200:
                        pending.discard(name)
            except OSError:
                pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"not healthy after {timeout:.0f} s: {', '.join(sorted(pending))}")
        time.sleep(0.2)


# Stopped front to back: the gateway first, so that it finishes its in-flight requests while the
# services still answer them; then the consumers, so that they finish their batches while the
# producers still serve their feeds; the customer service last.
STOP_ORDER = ("gateway", "feedback", "scoring", "customer")


def stop(processes: dict[str, subprocess.Popen[bytes]], timeout: float = 30) -> list[str]:
    """SIGTERM to each process in STOP_ORDER, all within `timeout` seconds together; the names of
    those that had to be killed."""
    deadline = time.monotonic() + timeout
    killed = []
    for name in sorted(processes, key=lambda n: STOP_ORDER.index(n) if n in STOP_ORDER else -1):
        process = processes[name]
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop within {timeout:.0f} s of the first SIGTERM; killed", file=sys.stderr)
            process.kill()
            process.wait()
            killed.append(name)
    return killed


def main() -> int:
    env = build_env()
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    migrate(env)
    processes = start(env)
    try:
        wait_healthy(processes)
        gateway = f"http://127.0.0.1:{_port('gateway')}"
        print(
            f"\nCRM is running (data in {env['CRM_DATA_DIR']}).\n"
            f"  API:      {gateway}/api/v1\n"
            f"  Docs:     {gateway}/docs\n"
            f"  Services: customer :{_port('customer')}, scoring :{_port('scoring')},"
            f" feedback :{_port('feedback')} (internal: they answer only calls signed by the gateway)\n"
            f"  Admin:    {env['CRM_BOOTSTRAP_ADMIN_EMAIL']} / {env['CRM_BOOTSTRAP_ADMIN_PASSWORD']}\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    print(f"{name} exited with code {process.returncode}; stopping the others", file=sys.stderr)
                    return 1
            time.sleep(0.3)
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        killed = stop(processes)
        print("stopped", flush=True)
    return 1 if killed else 0  # a process that had to be killed may have left work half done


if __name__ == "__main__":
    sys.exit(main())
