"""The pure core: plain data in, plain data out; no network, database, clock or environment."""
