"""The API's Kubernetes backend (RUN_BACKEND=kubernetes): runs as TestRun/JobRun resources, TestJobs of scheduled jobs.

Imported only when that backend is chosen: local mode never loads Kubernetes code.
"""
