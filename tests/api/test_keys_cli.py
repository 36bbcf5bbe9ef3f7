"""`crmctl keys create|list|revoke` and the development admin key of `make run`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg

from crmctl.keys import ensure_dev_admin_key

ROOT = Path(__file__).resolve().parents[2]


def cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DATABASE_URL=db_url, REDIS_URL="redis://unused:1/0", APP_ENV="test")
    return subprocess.run([sys.executable, "-m", "crmctl", "keys", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def test_create_list_revoke(seeded_db_url: str) -> None:
    made = cli(seeded_db_url, "create", "--role", "integration", "--label", "Bayut webhook")
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert created["role"] == "integration" and created["key"] in made.stderr
    listed = cli(seeded_db_url, "list")
    line = next(x for x in listed.stdout.splitlines() if x.startswith(created["prefix"]))
    assert "integration" in line and "active" in line and "Bayut webhook" in line
    assert created["key"] not in listed.stdout
    assert cli(seeded_db_url, "revoke", created["prefix"]).returncode == 0
    assert "revoked" in next(x for x in cli(seeded_db_url, "list").stdout.splitlines()
                             if x.startswith(created["prefix"]))
    bad = cli(seeded_db_url, "create", "--role", "agent", "--label", "nobody")
    assert bad.returncode == 1 and "agent" in bad.stderr
    assert cli(seeded_db_url, "revoke", "ffffffff").returncode == 1


def test_make_run_creates_one_development_admin_key(seeded_db_url: str, tmp_path: Path) -> None:
    ensure_dev_admin_key(seeded_db_url, tmp_path)
    key = (tmp_path / "dev-admin-key").read_text().strip()
    assert key.startswith("trk_") and oct((tmp_path / "dev-admin-key").stat().st_mode)[-3:] == "600"
    ensure_dev_admin_key(seeded_db_url, tmp_path)  # the second run reuses it
    assert (tmp_path / "dev-admin-key").read_text().strip() == key
    with psycopg.connect(seeded_db_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*), min(role::text) FROM crm.api_keys "
                           "WHERE label = 'development admin (make run)'").fetchone()
    assert row == (1, "admin")
