"""The venue client's settings: timeouts, retries, stream liveness. All in seconds."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ClientConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    connect_timeout_s: float = Field(3.0, gt=0)
    read_timeout_s: float = Field(10.0, gt=0)
    write_timeout_s: float = Field(5.0, gt=0)
    pool_timeout_s: float = Field(5.0, gt=0)
    max_connections: int = Field(32, ge=2)

    # retries of calls that are safe to repeat (reads, idempotent order-path calls)
    max_attempts: int = Field(3, ge=1, le=10)
    backoff_base_s: float = Field(0.1, gt=0)
    backoff_cap_s: float = Field(5.0, gt=0)
    max_rate_wait_s: float = Field(60.0, ge=0)  # longest wait for a rate window or 429

    # streams
    heartbeat_timeout_s: float = Field(45.0, gt=0)  # no bytes this long: the link is dead
    stale_after_s: float = Field(10.0, gt=0)        # no news this long: the feed is stale
    reconnect_base_s: float = Field(0.05, gt=0)
    reconnect_cap_s: float = Field(10.0, gt=0)
    stable_after_s: float = Field(1.0, ge=0)  # up this long: the next reconnect is quick
    book_depth: int = Field(25, ge=1, le=500)
    book_interval_ms: int = Field(100, ge=0)
    user_interval_ms: int = Field(250, ge=0)

    @model_validator(mode="after")
    def _caps(self) -> ClientConfig:
        if self.backoff_cap_s < self.backoff_base_s:
            raise ValueError("backoff_cap_s must be at least backoff_base_s")
        if self.reconnect_cap_s < self.reconnect_base_s:
            raise ValueError("reconnect_cap_s must be at least reconnect_base_s")
        return self
