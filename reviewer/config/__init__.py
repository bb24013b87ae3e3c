"""Repository configuration: the `.github/reviewer.yml` schema and the layered result."""
