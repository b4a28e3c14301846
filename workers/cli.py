"""flask worker | scheduler | mail-receiver | wake-timers: the background processes' commands.

They reach `flask` through the `flask.commands` entry points in pyproject.toml, so the app never
imports workers: workers depend on the app, not the reverse.
"""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.usecases.timers import wake_timers
from workers.mail_receiver import mail_receiver_command
from workers.scheduler import Scheduler
from workers.worker import run_worker

__all__ = ["mail_receiver_command", "scheduler_command", "wake_timers_command", "worker_command"]


@click.command("wake-timers")
@with_appcontext
def wake_timers_command() -> None:
    """Fire the timers that are due now."""
    click.echo(f"woke {wake_timers()} instance(s)")


@click.command("worker")
@with_appcontext
@click.option("--burst", is_flag=True, help="Stop when the queue is empty")
@click.option("--fork", is_flag=True, help="Run each job in a fork (isolation) instead of the warm process")
@click.option("--name", default=None, help="Worker name shown in rq's registries")
def worker_command(burst: bool, fork: bool, name: str | None) -> None:
    """Run an rq worker on the app's queue; start as many as the load needs."""
    run_worker(burst=burst, fork=fork, name=name)


@click.command("scheduler")
@with_appcontext
@click.option("--max-sleep", default=30.0, show_default=True,
              help="Longest sleep between rounds; steps wake it earlier through Redis")
def scheduler_command(max_sleep: float) -> None:
    """Run forever: wake due timers and relay due outbox jobs, sleeping until the next is due."""
    click.echo("scheduler: waking timers and relaying the outbox")
    Scheduler(max_sleep=max_sleep).serve()
