"""Local mode: the dispatcher that admits runs from database rows and runs them as subprocesses."""
