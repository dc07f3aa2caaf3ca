"""The same bot over SQLite and PostgreSQL as the jobs' tests."""

from tests.jobs.conftest import database, jobs_bot

__all__ = ["database", "jobs_bot"]
