"""Database models, engine and repositories (Postgres, or SQLite in local mode)."""
