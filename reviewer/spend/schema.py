"""The calls table as queries see it: its rows, column types and exact USD amounts."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, get_args

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from reviewer.errors import LedgerError
from reviewer.spend.migrations import TableNames

Trigger = Literal["auto", "command", "action", "cli"]
Mode = Literal["realtime", "batch"]
MODES: tuple[str, ...] = get_args(Mode)
Kind = Literal["review", "conversation", "ask"]
KINDS: tuple[str, ...] = get_args(Kind)
TRIGGERS: tuple[str, ...] = get_args(Trigger)


@dataclass(frozen=True)
class CallRow:
    """One call attempt as the ledger stores it; `cost_usd` is exact."""

    time: datetime
    repository: str
    pr_number: int | None
    head_sha: str | None
    trigger: str
    model: str
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    cost_usd: Decimal
    outcome: str
    review_id: str
    chunk_index: int
    attempt: int
    stop_reason: str | None = None
    request_id: str | None = None
    mode: str = "realtime"
    batch_id: str | None = None
    custom_id: str | None = None
    kind: str = "review"
    # Names the row across processes and the journal; written once, then updated in place.
    row_id: str = ""
    # False while the row holds a call's worst case (reserved, or no answer ever came).
    usage_known: bool = True

    def to_json(self) -> dict[str, Any]:
        values = asdict(self)
        values["time"] = self.time.isoformat()
        values["cost_usd"] = f"{self.cost_usd:f}"
        return values

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> CallRow:
        fields = dict(values)
        fields["time"] = datetime.fromisoformat(fields["time"])
        fields["cost_usd"] = Decimal(fields["cost_usd"])
        return cls(**fields)


def new_row_id() -> str:
    return str(uuid.uuid4())


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend.

    SQLite's DATETIME drops the offset, so values are stored as naive UTC there.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise LedgerError("ledger times must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def calls_table(names: TableNames) -> sa.Table:
    """The current shape of the calls table, for queries (migrations own the DDL)."""
    return sa.Table(
        names.calls,
        sa.MetaData(),
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("time", UTCDateTime, nullable=False),
        sa.Column("repository", sa.String),
        sa.Column("pr_number", sa.Integer),
        sa.Column("head_sha", sa.String),
        sa.Column("trigger", sa.String),
        sa.Column("model", sa.String),
        sa.Column("input_tokens", sa.Integer),
        sa.Column("output_tokens", sa.Integer),
        sa.Column("cache_creation_input_tokens", sa.Integer),
        sa.Column("cache_read_input_tokens", sa.Integer),
        sa.Column("cost_pusd", sa.BigInteger),
        sa.Column("stop_reason", sa.String),
        sa.Column("request_id", sa.String),
        sa.Column("outcome", sa.String),
        sa.Column("review_id", sa.String),
        sa.Column("chunk_index", sa.Integer),
        sa.Column("attempt", sa.Integer),
        sa.Column("mode", sa.String),
        sa.Column("batch_id", sa.String),
        sa.Column("custom_id", sa.String),
        sa.Column("kind", sa.String),
        sa.Column("row_id", sa.String),
        sa.Column("usage_known", sa.Boolean),
    )


def to_pico(amount: Decimal) -> int:
    """Return `amount` USD in whole pico-dollars; refuse an amount finer than that."""
    scaled = amount.scaleb(12)
    if scaled != scaled.to_integral_value():
        raise LedgerError(f"cost {amount} USD is finer than the ledger's 1e-12 USD unit")
    return int(scaled)


def from_pico(value: int | Decimal | None) -> Decimal:
    """Return a pico-dollar integer as exact USD."""
    if not value:
        return Decimal(0)
    amount = Decimal(int(value)).scaleb(-12).normalize()
    # normalize() writes whole dollars as 1E+1; keep them plain.
    return amount.quantize(Decimal(1)) if amount == amount.to_integral_value() else amount


def row_values(row: CallRow) -> dict[str, Any]:
    if row.mode not in MODES:
        raise LedgerError(f"mode must be one of {', '.join(MODES)}, not {row.mode!r}")
    if row.trigger not in TRIGGERS:
        raise LedgerError(f"trigger must be one of {', '.join(TRIGGERS)}, not {row.trigger!r}")
    if row.kind not in KINDS:
        raise LedgerError(f"kind must be one of {', '.join(KINDS)}, not {row.kind!r}")
    return {
        "time": row.time,
        "repository": row.repository,
        "pr_number": row.pr_number,
        "head_sha": row.head_sha,
        "trigger": row.trigger,
        "model": row.model,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "cache_creation_input_tokens": row.cache_creation_input_tokens,
        "cache_read_input_tokens": row.cache_read_input_tokens,
        "cost_pusd": to_pico(row.cost_usd),
        "stop_reason": row.stop_reason,
        "request_id": row.request_id,
        "outcome": row.outcome,
        "review_id": row.review_id,
        "chunk_index": row.chunk_index,
        "attempt": row.attempt,
        "mode": row.mode,
        "batch_id": row.batch_id,
        "custom_id": row.custom_id,
        "kind": row.kind,
        "row_id": row.row_id or new_row_id(),
        "usage_known": row.usage_known,
    }
