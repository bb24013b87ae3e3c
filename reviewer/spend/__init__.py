"""Spend: usage records, prices, budgets and the ledger (the only SQLAlchemy user)."""
