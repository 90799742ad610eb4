"""Run every benchmark in turn (``make bench``); each prints its own figures.

Pass DATABASE_URL=postgres://... to include PostgreSQL (a throwaway
``<name>_bench`` database is created and dropped).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    "seed_scale.py",
    "stock_services.py",
    "orders_confirm.py",
    "exports.py",
    "imports.py",
    "pages.py",
    "reports.py",
    "reorder.py",
    "record_search.py",
]


def main() -> int:
    status = 0
    for script in SCRIPTS:
        print(f"### {script}", flush=True)
        status |= subprocess.run([sys.executable, str(HERE / script)], check=False).returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
