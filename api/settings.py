"""Configuration from the environment (and an optional .env file). No secret has a default."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    # an empty variable is an unset one (compose passes `${PROPERTY_SERVICE_URL:-}` and the like as "")
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL the API connects with. Unset: `make run` starts an embedded server.",
    )
    migration_database_url: str | None = Field(
        default=None,
        description="URL that owns the schema and runs migrations; defaults to DATABASE_URL.",
    )
    jobs_database_url: str | None = Field(
        default=None,
        description="URL of the job login (thinkrealty_jobs) the background sweeper connects with; the API's own "
                    "login cannot run the jobs. Unset: MIGRATION_DATABASE_URL, else DATABASE_URL.")
    database_listen_url: str | None = Field(
        default=None,
        description="A direct PostgreSQL URL (no transaction-mode pooler) for the connections that hold a session: "
                    "the dashboard change listener's (it keeps one open). Unset: DATABASE_URL.")
    database_pooler: Literal["none", "transaction"] = Field(
        default="none",
        description="transaction: DATABASE_URL goes through a transaction-mode pooler (PgBouncer). The pool then "
                    "keeps no prepared statements across transactions (asyncpg statement_cache_size=0) and sends "
                    "no startup parameter a pooler refuses (statement_timeout comes from the login's own default, "
                    "which `crmctl migrate` sets). none: a direct connection (or a session-mode pooler).")
    reporting_database_url: str | None = Field(
        default=None,
        description="Where GET /api/v1/analytics reads: a streaming hot standby of the primary, as the API's login. "
                    "Unset: DATABASE_URL (the primary).")
    redis_url: str | None = Field(default=None, description="Redis URL (dashboard cache). Unset: embedded Redis.")
    app_env: Literal["development", "test", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    web_concurrency: int = Field(
        default=1, ge=1, le=64,
        description="Worker processes of `crmctl serve` (uvicorn workers), each with its own pool, listener and "
                    "sweeper; WEB_CONCURRENCY is the name the Dockerfile and most platforms use.")
    db_pool_min_size: int = Field(
        default=20, ge=0,
        description="Connections each worker's pool opens at start-up and keeps (warmed, see DB_POOL_WARM), so a "
                    "burst of captures finds warm backends instead of opening cold ones; by default all of them.")
    db_pool_max_size: int = 20
    db_pool_warm: bool = Field(
        default=True,
        description="Run api.warm_up() (a capture that always rolls back) on every connection the pool opens, before "
                    "it serves a request: a cold backend answers its first capture several times slower.")
    db_statement_timeout_ms: int = 5000
    db_command_timeout_s: float = 10.0
    redis_timeout_s: float = 0.5
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = Field(
        default="json", description="json: one JSON object per log line (request id, route, status, duration); text")
    sweep_interval_s: float = Field(
        default=60.0, description="Seconds between background sweeps (jobs.run_sweeps); 0 turns the sweeper off.")
    dashboard_cache_ttl_s: int = Field(
        default=60, description="Safety-net lifetime of a cached dashboard; changes invalidate it within "
                                "DASHBOARD_POLL_S.")
    dashboard_poll_s: float = Field(
        default=0.2, gt=0, le=60,
        description="How often each process reads the dashboard change log (api.dashboard_changes): the longest a "
                    "changed agent's cached dashboard may still be served after the change commits.")
    capture_max_body_bytes: int = Field(default=65536, description="Largest capture body accepted (413 above).")
    max_body_bytes: int = Field(
        default=1_048_576, description="Largest request body of any route (413 above, before the route runs).")
    cors_origins: str = Field(
        default="", description="Comma-separated browser origins allowed by CORS; empty (the default): CORS off.")
    property_service_url: str | None = Field(
        default=None, description="External property-suggestion service; unset: suggestions from our own listings.")
    property_service_timeout_ms: int = Field(default=500, description="Total time allowed for one suggestion call.")
    property_service_failure_threshold: int = Field(
        default=5, description="Failures in a row that open the suggestion service's circuit breaker.")
    property_service_cooldown_s: float = Field(
        default=30.0, description="How long an open circuit refuses calls before one trial call.")
    webhook_dispatch: bool = Field(
        default=True, description="Whether this process runs a webhook dispatcher (as the job login, on a direct "
                                  "connection: it LISTENs). Several processes may: they share the queue.")
    webhook_timeout_s: float = Field(default=5.0, gt=0, le=60,
                                     description="Time allowed for one webhook request (connect to answer).")
    webhook_batch_size: int = Field(default=200, ge=1, le=1000,
                                    description="Deliveries a dispatcher claims per round.")
    webhook_concurrency: int = Field(default=50, ge=1, le=500,
                                     description="Webhook requests a dispatcher has in flight at once.")
    webhook_poll_s: float = Field(
        default=5.0, gt=0, description="Longest sleep of an idle dispatcher; a NOTIFY or a due retry wakes it sooner.")
    offer_timer: bool = Field(
        default=True, description="Whether this process runs the offer timer (as the job login, direct: it LISTENs); "
                                  "several processes may.")
    offer_timer_poll_s: float = Field(default=2.0, gt=0,
                                      description="Longest sleep of the offer timer; a deadline or NOTIFY wakes it.")
    offer_timer_workers: int = Field(default=2, ge=1, le=16,
                                     description="Parallel loops of the offer timer in this process (own connections).")
    data_dir: str = ".data"


    @property
    def owner_url(self) -> str | None:
        return self.migration_database_url or self.database_url

    @property
    def listen_url(self) -> str | None:
        """The dashboard change listener's connection: DATABASE_LISTEN_URL (direct), else DATABASE_URL."""
        return self.database_listen_url or self.database_url

    @property
    def jobs_url(self) -> str | None:
        """Where the sweeper runs the jobs: the job login, else the owner (MIGRATION_DATABASE_URL, else DATABASE_URL:
        a deployment whose one URL is the owner's)."""
        return self.jobs_database_url or self.owner_url


@lru_cache
def get_settings() -> Settings:
    return Settings()
