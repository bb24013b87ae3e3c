"""`reviewer doctor`'s ledger checks: reachable, migrations current, the month's spend."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from reviewer.core.checks import Check, fail, ok, skip, warn
from reviewer.core.summary import plural
from reviewer.core.text import format_usd
from reviewer.errors import ReviewerError
from reviewer.spend.ledger import Ledger, month_start, next_month
from reviewer.spend.migrations import MIGRATIONS, TableNames, applied_migrations

CONNECT_TIMEOUT_S = 5
BUDGET_WARNING_SHARE = Decimal("0.8")


def safe_url(url: str) -> str:
    """The URL without its password (safe to print)."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable URL)"


def _sqlite_file(url: sa.URL) -> Path | None:
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    return None if database.startswith("file:") else Path(database).expanduser()


def _engine(url: sa.URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        return sa.create_engine(url, connect_args={"timeout": CONNECT_TIMEOUT_S})
    if url.get_backend_name() == "postgresql":
        return sa.create_engine(url, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    return sa.create_engine(url)


def _reason(exc: Exception) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def ledger_checks(
    url: str,
    *,
    monthly_budget_usd: Decimal | None,
    now: datetime,
    table_prefix: str = "",
    variable: str = "REVIEWER_DATABASE_URL",
) -> list[Check]:
    """Reach the ledger without changing it; say what a migration would apply and the spend."""
    shown = safe_url(url)
    known = [fn.__name__ for fn in MIGRATIONS]
    try:
        parsed = sa.make_url(url)
    except Exception:
        return [fail("spend.ledger", f"{variable} is not a database URL", f"correct {variable}")]
    path = _sqlite_file(parsed)
    if path is not None and not path.exists():
        return [
            ok("spend.ledger", f"no ledger yet at {path}: the first review creates it"),
            ok("spend.migrations", f"{len(known)} to apply when it is created: {', '.join(known)}"),
            skip("spend.month", "no spend recorded yet"),
        ]
    names = TableNames(table_prefix)
    try:
        engine = _engine(parsed)
    except Exception as exc:  # a driver that is not installed, a bad option
        return [fail("spend.ledger", f"cannot open {shown}: {exc}", f"correct {variable}")]
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
            has_table = sa.inspect(conn).has_table(names.migrations)
            applied = applied_migrations(conn, names) if has_table else []
    except SQLAlchemyError as exc:
        engine.dispose()
        return [
            fail(
                "spend.ledger",
                f"cannot reach {shown}: {_reason(exc)}",
                f"start the database or correct {variable}",
            ),
            skip("spend.migrations", "the ledger is not reachable"),
            skip("spend.month", "the ledger is not reachable"),
        ]
    checks = [ok("spend.ledger", f"{shown} ({engine.dialect.name}) answers")]
    unknown = sorted(set(applied) - set(known))
    pending = [name for name in known if name not in applied]
    if unknown:
        checks.append(
            fail(
                "spend.migrations",
                f"migrated by a newer reviewer: {', '.join(unknown)}",
                "upgrade reviewer to the version the other machines run",
            )
        )
    elif pending:
        checks.append(
            warn(
                "spend.migrations",
                f"{len(pending)} to apply: {', '.join(pending)}",
                "they are applied when the ledger is next opened (a review, `reviewer serve`)",
            )
        )
    else:
        checks.append(ok("spend.migrations", f"current ({len(applied)} applied)"))
    if unknown or pending:
        checks.append(skip("spend.month", "the ledger's schema is not current"))
    else:
        checks.append(_month(Ledger(engine, names), monthly_budget_usd, now))
    engine.dispose()
    return checks


def _month(ledger: Ledger, budget: Decimal | None, now: datetime) -> Check:
    """This month's spend per repository against the operator's monthly budget."""
    start = month_start(now)
    try:
        rows = ledger.report(start, next_month(start), by="repo")
    except ReviewerError as exc:
        return fail("spend.month", exc.message, "check the ledger database")
    month = start.strftime("%B %Y")
    if not rows:
        return ok("spend.month", f"no spend in {month} yet")
    parts, over, near = [], [], []
    for row in rows:
        if budget is None:
            parts.append(f"{row.key} {format_usd(row.cost_usd)}")
            continue
        parts.append(f"{row.key} {format_usd(row.cost_usd)} of {format_usd(budget)}")
        if row.cost_usd >= budget:
            over.append(row.key)
        elif row.cost_usd >= budget * BUDGET_WARNING_SHARE:
            near.append(row.key)
    limit = "" if budget is not None else " (no monthly budget set)"
    found = f"{month}{limit}: {'; '.join(parts)}"
    if over:
        return warn(
            "spend.month",
            found,
            f"{', '.join(over)} reached the monthly budget: no review until next month "
            "unless REVIEWER_MONTHLY_BUDGET_USD is raised",
        )
    if near:
        return warn("spend.month", found, f"{', '.join(near)} used 80% of the monthly budget")
    return ok("spend.month", found)


def journal_check(path: Path, *, ledger_reachable: bool) -> Check:
    """The spend journal: empty, or rows that the next opening of the ledger will replay.

    Read only: the doctor never drains it (opening the ledger for a review does).
    """
    try:
        with path.open(encoding="utf-8") as handle:
            lines = [line for line in handle if line.strip()]
    except FileNotFoundError:
        return ok("spend.journal", f"empty ({path} does not exist)")
    except OSError as exc:
        return fail(
            "spend.journal",
            f"cannot read {path}: {exc.strerror}",
            "let the reviewer's user read and write it (REVIEWER_DATA_DIR)",
        )
    if not lines:
        return ok("spend.journal", f"empty ({path})")
    readable = sum(1 for line in lines if _is_row(line))
    found = f"{plural(readable, 'call row')} at {path} wait to be written to the ledger"
    if readable < len(lines):
        found += f"; {len(lines) - readable} cut short by a crash will be skipped"
    if ledger_reachable:
        fix = "they are replayed when the ledger is next opened (a review, `reviewer serve`)"
    else:
        fix = "they are replayed once the ledger database answers again (see spend.ledger)"
    return warn("spend.journal", found, fix)


def _is_row(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except json.JSONDecodeError:
        return False
