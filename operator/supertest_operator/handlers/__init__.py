"""Handler bodies, one concern per module; `supertest_operator.main` registers them with kopf."""
