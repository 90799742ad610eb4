"""REST API throughput under gunicorn on loopback (issue 9 §7): requests/s, p50 and p95.

Scenarios, each for ``--seconds`` with ``--clients`` concurrent client processes (stdlib ``http.client``,
one connection each), against gunicorn (the project's gunicorn.conf.py: 2 threads a worker) with 2 and then 4 workers:

* ``products``: ``GET /api/v1/products/?page_size=50`` (a page of 50);
* ``order create+confirm``: ``POST /api/v1/sales-orders/`` (2 lines) then ``POST …/{id}/confirm/``, both with
  an ``Idempotency-Key``; one "request" here is the pair (figures are pairs/s and the pair's latency);
* ``stock-movements``: cursor pages of 50 of the ledger, following ``next`` 5 pages deep, then again.

Authenticated with a personal API token (``Authorization: Bearer``) as a superuser; requests carry
``X-Forwarded-Proto: https`` as behind the TLS proxy of production (the settings redirect plain http).
Targets printed beside the figures: products ≥ 300 requests/s and order create+confirm ≥ 100/s with 4
workers. The throttle rates are raised for the run. PostgreSQL by default (``--only``), on a throwaway
``<name>_bench`` database next to ``DATABASE_URL`` (see ``_django.py``).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/backoffice .venv/bin/python benchmarks/api.py
    .venv/bin/python benchmarks/api.py --only sqlite --seconds 5 --workers 2
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from _django import REPO, database_label, run_per_database, setup_django

TARGETS = {("products", 4): 300, ("order create+confirm", 4): 100}
SCENARIOS = ("products", "order create+confirm", "stock-movements")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# CPU accounting --------------------------------------------------------------------------------------
# The machine is shared: requests/s alone depends on what else runs. The CPU seconds the server
# (gunicorn workers) and the database (PostgreSQL backends of the bench database) spent are read from
# /proc before and after each scenario, so "requests per CPU-second" stays meaningful under load.


def _cpu_seconds(pid: int) -> float:
    """utime + stime of one process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def _database_backends() -> list[int]:
    """PostgreSQL backend pids connected to this database (none on SQLite: it runs inside the workers)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        pids = [row[0] for row in cursor.fetchall()]
    connection.close()
    return pids


def cpu_snapshot(server: subprocess.Popen) -> dict[str, dict[int, float]]:
    return {
        "server": {pid: _cpu_seconds(pid) for pid in [server.pid, *_children(server.pid)]},
        "database": {pid: _cpu_seconds(pid) for pid in _database_backends()},
    }


def cpu_used(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds spent between two snapshots (processes started meanwhile count from zero)."""
    return {
        part: sum(max(0.0, now - before[part].get(pid, 0.0)) for pid, now in after[part].items())
        for part in ("server", "database")
    }


def seed(products: int, movements: int) -> str:
    """A superuser with a token, a warehouse with plenty of stock, a customer, a ledger; returns the token."""
    from decimal import Decimal

    from django.contrib.auth import get_user_model

    from integrations.tokens import api_token_create
    from inventory.models import Category, MovementKind, Product, Warehouse
    from inventory.services import StockLine, stock_receive
    from orders.models import Customer

    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "pw-Bench-123")
    _, token = api_token_create(user=user, name="benchmark", expires_days=1)
    warehouse = Warehouse.objects.create(code="BENCH", name="Benchmark")
    category = Category.objects.create(name="Bench")
    items = Product.objects.bulk_create(
        [
            Product(sku=f"B-{n:05d}", name=f"Bench product {n}", category=category, sale_price=Decimal("9.50"))
            for n in range(products)
        ]
    )
    per_call = max(1, movements // 20)
    for start in range(0, movements, per_call):
        lines = [
            StockLine(items[(start + n) % len(items)].pk, warehouse.pk, 1_000_000, Decimal("4.00"))
            for n in range(min(per_call, movements - start))
        ]
        stock_receive(lines=lines, kind=MovementKind.OPENING, reference=f"BENCH-{start}")
    Customer.objects.create(code="BENCHC", name="Bench customer", email="c@example.com", billing_address="1 Road")
    return token


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(workers: int, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_API_THROTTLE_USER": "10000000/minute",
        "DJANGO_API_THROTTLE_ANON": "10000000/minute",
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "--config",
        str(REPO / "gunicorn.conf.py"),  # the production settings (gthread, 2 threads a worker) ...
        "backoffice.wsgi",
        "--access-logfile",
        "/dev/null",  # ... without an access log line per request
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, cwd=REPO, env=env)
    deadline = time.monotonic() + 300  # a loaded machine boots workers slowly
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.2)
    else:
        process.terminate()
        raise RuntimeError("gunicorn did not start")
    # Every worker booted and idle (its CPU time no longer grows), so no boot is measured as request work.
    previous = None
    while time.monotonic() < deadline:
        workers_now = _children(process.pid)
        spent = sum(_cpu_seconds(pid) for pid in workers_now)
        if previous is not None and len(workers_now) >= workers and spent - previous < 0.05:
            return process
        previous = spent
        time.sleep(1.0)
    return process


def _request(conn, method, path, headers, body=None):
    payload = json.dumps(body).encode() if body is not None else None
    send = dict(headers, **({"Content-Type": "application/json"} if payload is not None else {}))
    conn.request(method, path, body=payload, headers=send)
    response = conn.getresponse()
    data = response.read()
    return response.status, data


def client_loop(args) -> tuple[list[float], int, int]:
    """One client process: run the scenario until the deadline; (latencies, done, errors)."""
    scenario, port, token, deadline, client_id = args
    headers = {"Authorization": f"Bearer {token}", "X-Forwarded-Proto": "https", "Host": "127.0.0.1"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    latencies: list[float] = []
    errors = 0
    cursor_path, depth = None, 0
    product_sku = f"B-{client_id:05d}"
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            if scenario == "products":
                status, _ = _request(conn, "GET", "/api/v1/products/?page_size=50", headers)
                ok = status == 200
            elif scenario == "order create+confirm":
                key = uuid.uuid4().hex
                body = {
                    "customer": "BENCHC",
                    "warehouse": "BENCH",
                    "lines": [{"product": product_sku, "quantity": 1}, {"product": "B-00000", "quantity": 2}],
                }
                status, data = _request(
                    conn, "POST", "/api/v1/sales-orders/", dict(headers, **{"Idempotency-Key": key}), body
                )
                ok = status == 201
                if ok:
                    order = json.loads(data)["id"]
                    status, _ = _request(
                        conn,
                        "POST",
                        f"/api/v1/sales-orders/{order}/confirm/",
                        dict(headers, **{"Idempotency-Key": key + "-c"}),
                        {},
                    )
                    ok = status == 200
            else:
                path = cursor_path or "/api/v1/stock-movements/?page_size=50"
                status, data = _request(conn, "GET", path, headers)
                ok = status == 200
                if ok:
                    following = json.loads(data).get("next")
                    depth += 1
                    if following and depth < 5:
                        parts = urlsplit(following)
                        cursor_path = f"{parts.path}?{parts.query}"
                    else:
                        cursor_path, depth = None, 0
        except (OSError, http.client.HTTPException):
            ok = False
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        if ok:
            latencies.append(time.perf_counter() - started)
        else:
            errors += 1
    conn.close()
    return latencies, len(latencies), errors


def measure(scenario: str, port: int, token: str, clients: int, seconds: float) -> dict:
    deadline = time.monotonic() + seconds
    with multiprocessing.get_context("spawn").Pool(clients) as pool:
        started = time.monotonic()
        parts = pool.map(client_loop, [(scenario, port, token, deadline + 1.0, n) for n in range(clients)])
        elapsed = time.monotonic() - started - 1.0  # the extra second covers the clients' start-up
    latencies = sorted(value for part, _, _ in parts for value in part)
    done = sum(count for _, count, _ in parts)
    errors = sum(count for _, _, count in parts)
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "rate": done / max(elapsed, 0.001),
        "p50": quantiles[49] * 1000,
        "p95": quantiles[94] * 1000,
        "done": done,
        "errors": errors,
    }


def child(args) -> int:
    setup_django()
    from django.db import connection

    print(f"== {database_label()}")
    token = seed(args.products, args.movements)
    connection.close()
    print(
        f"   {args.products} products, {args.movements} ledger movements; {args.clients} client processes, "
        f"{args.seconds:g} s per scenario; {os.cpu_count()} CPUs shared by clients, gunicorn and the database\n"
    )
    print(
        f"   {'workers':>7}  {'scenario':<22} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'errors':>6}"
        f" {'srv ms':>7} {'db ms':>6} {'req/CPU-s':>9}  target"
    )
    status = 0
    for workers in args.workers:
        port = free_port()
        server = start_gunicorn(workers, port)
        try:
            for scenario in SCENARIOS:  # warm-up, not measured: each worker imports and loads lazily
                measure(scenario, port, token, args.clients, args.warmup)
            for scenario in SCENARIOS:
                before = cpu_snapshot(server)
                result = measure(scenario, port, token, args.clients, args.seconds)
                used = cpu_used(before, cpu_snapshot(server))
                done = max(result["done"], 1)
                server_ms, database_ms = used["server"] / done * 1000, used["database"] / done * 1000
                per_cpu_second = done / max(used["server"] + used["database"], 0.001)
                target = TARGETS.get((scenario, workers))
                verdict = ""
                if target:
                    verdict = f"≥ {target}/s: {'met' if result['rate'] >= target else 'MISSED'}"
                print(
                    f"   {workers:>7}  {scenario:<22} {result['rate']:>8.1f} {result['p50']:>8.1f} "
                    f"{result['p95']:>8.1f} {result['errors']:>6} {server_ms:>7.2f} {database_ms:>6.2f} "
                    f"{per_cpu_second:>9.1f}  {verdict}",
                    flush=True,
                )
                status |= 1 if result["errors"] else 0
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        "\n   srv ms / db ms: CPU milliseconds per request (per pair for create+confirm) of the gunicorn\n"
        "   workers / the PostgreSQL backends, read from /proc; req/CPU-s: requests per CPU-second of both\n"
        "   (the clients' own CPU is not counted). On a 2-core machine the ceiling is about 2 × req/CPU-s.\n"
    )
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--warmup", type=float, default=3, help="seconds of each scenario before measuring")
    parser.add_argument("--products", type=int, default=500)
    parser.add_argument("--movements", type=int, default=20_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql", "both"], default="postgresql")
    args = parser.parse_args()
    if args.child:
        return child(args)
    forwarded = [a for a in sys.argv[1:] if a != "--child"]
    return run_per_database(__file__, forwarded, only="" if args.only == "both" else args.only)


if __name__ == "__main__":
    sys.exit(main())
