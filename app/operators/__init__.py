"""Operators: the service tasks a diagram may call (`registry.py`) and the functions that do them.

Each operator runs in a job outside any write transaction and writes in short units of work; the
rq worker (`workers/`) and JOBS_INLINE both run them through `app.usecases.jobs`.
"""
