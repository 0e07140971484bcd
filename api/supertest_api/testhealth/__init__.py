"""Per-test health over a window of results (pass and flaky rates, durations, last failure) and quarantine."""
