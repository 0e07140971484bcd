"""Real backing services for the test suite (Postgres, Redis, an S3-compatible server), started on demand.

`tests.services.plugin` exposes them as pytest fixtures; the server classes work outside pytest too.
"""
