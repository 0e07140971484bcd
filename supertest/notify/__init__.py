"""Notifications: channel senders and the sender loop. The rules are pure (`supertest.alert_rules`); the outbox
rows are written with a run's terminal transition (`supertest.db.outbox`, called by `supertest.db.runs`)."""
