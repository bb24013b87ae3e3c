"""A fake GitHub REST API at the requests layer (filled in by the GitHub adapter work)."""
