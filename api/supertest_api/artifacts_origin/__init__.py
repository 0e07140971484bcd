"""The artifacts origin: run files served on their own origin, authorised by run-scoped tokens in the URL."""
