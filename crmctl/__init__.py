"""crmctl: the operations command line (`crmctl` or `python -m crmctl`).

    crmctl serve | migrate [--rollback [TARGET]] | seed | keys create|list|revoke | sweep | generate | psql

One module per job: `cli` (the arguments), `environment` (which servers: the ones named by the environment, or the
embedded ones of devservers/ with their data in .data/), `migrate` (the migrate and seed commands), `keys`, `sweep`,
`serve`, `psql` (psql and the scale-data generator, which runs through it).
"""
