"""Shared pytest wiring: service and control-plane fixtures live in plugin modules."""

pytest_plugins = ["tests.services.plugin", "tests.k8s.plugin"]
