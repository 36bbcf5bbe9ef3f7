"""crmctl: the operations command line (`crmctl` or `python -m crmctl`).

    crmctl serve | migrate [--rollback [TARGET]] | seed | keys create|list|revoke | sweep | generate | psql

One module per job: `cli` (the arguments), `environment` (which servers: the ones named by the environment, or the
embedded ones of devservers/ with their data in .data/), `database` (the runner that applies db/: roles,
migrations, functions, demo data), `migrate` (its two commands, migrate and seed), `keys`, `sweep`, `serve`, and
`psql` (psql, and the scale-data generator that runs through it).
"""
