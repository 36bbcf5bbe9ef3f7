"""`crmctl keys create|list|revoke`, and the development admin key that `crmctl serve` makes on a first `make run`.

Keys are managed as the schema owner (a DBA's session: trusted by crm.authorize). A key is printed once; only its
hash is stored.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import psycopg

from api.settings import Settings
from crmctl import queries
from crmctl.environment import environment


def cmd_keys(args: argparse.Namespace, settings: Settings) -> int:
    """API keys, as the schema owner (a DBA's session: trusted by crm.authorize). The key is printed once."""
    with environment(settings, need_redis=False) as env, psycopg.connect(env.owner_url, autocommit=True) as conn:
        actor = f"cli:{os.environ.get('USER') or 'operator'}"
        try:
            if args.keys_command == "create":
                row = conn.execute(queries.CREATE_API_KEY, (args.role, args.label, args.agent_id, actor)).fetchone()
                assert row is not None
                created = row[0]
                print(json.dumps(created, indent=2))
                print(f"\nthe key (shown this once; only its hash is stored):\n{created['key']}", file=sys.stderr)
            elif args.keys_command == "list":
                listed = conn.execute(queries.LIST_API_KEYS).fetchone()
                assert listed is not None
                for key in listed[0]:
                    state = f"revoked {key['revoked_at'][:19]}" if key["revoked_at"] else "active"
                    print(f"{key['prefix']}  {key['role']:<11} {state:<28} {key['label']}"
                          + (f"  agent {key['agent_id']}" if key["agent_id"] else ""))
            else:
                revoked = conn.execute(queries.REVOKE_API_KEY, (args.key, actor)).fetchone()
                assert revoked is not None
                print(json.dumps(revoked[0], indent=2))
        except psycopg.Error as exc:
            print(f"error: {exc.diag.message_primary or exc}", file=sys.stderr)
            return 1
    return 0


def ensure_dev_admin_key(owner_url: str, data_dir: Path) -> None:
    """`make run`: one development admin key, made on the first run, printed and kept in .data/dev-admin-key
    (a local file for a local server; production makes its keys with `crmctl keys create`)."""
    path = data_dir / "dev-admin-key"
    with psycopg.connect(owner_url, autocommit=True) as conn:
        existing = conn.execute(queries.DEV_ADMIN_KEY).fetchone()
        if existing and path.exists():
            print(f"development admin key: {path.read_text().strip()}  (from {path})")
            return
        row = conn.execute(queries.CREATE_DEV_ADMIN_KEY).fetchone()
    assert row is not None
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(row[0]["key"] + "\n")
    path.chmod(0o600)
    print(f"development admin key (new; kept in {path}): {row[0]['key']}")
