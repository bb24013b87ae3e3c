"""The `reviewer` command line."""
