"""The GitHub adapter: REST bodies, fetching and publishing (the only PyGithub user)."""
