"""The `supertest` command: the top layer that wires the deployables together."""
