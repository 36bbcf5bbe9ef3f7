"""Development servers: the embedded PostgreSQL (`devservers.postgres`) and Redis (`devservers.redis`) that
`make run`, the tests and the benchmarks start when DATABASE_URL / REDIS_URL are not set. Real servers from PyPI
wheels (the `embedded` extra), on 127.0.0.1 only; production never imports this package.
"""
