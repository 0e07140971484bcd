"""Event bodies only, one concern per module: what one watch event or one reconcile step does. `main` registers
them with kopf and `loops` calls them; infrastructure (DB mirror, probe and webhook servers, retention) lives in
the modules named for it one layer down (see the layers contract in pyproject.toml)."""
