"""flask deploy | demo | create-user (the background processes' commands are workers/cli.py's)."""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from app.errors import BespokeError
from app.extensions import db
from app.models import User
from app.services.reference import create_user, ensure_reference_data
from app.usecases.deploy import deploy_bundle, read_bundle
from app.usecases.uow import unit_of_work


def init_app(app: Flask) -> None:
    app.cli.add_command(deploy_command)
    app.cli.add_command(demo_command)
    app.cli.add_command(create_user_command)


@click.command("deploy")
@with_appcontext
@click.option("--processes", "processes_dir", default=None, help="Folder with *.bpmn and *.dmn")
@click.option("--forms", "forms_dir", default=None, help="Folder with the form JSON files")
@click.option("--force", is_flag=True, help="Replace a version published from the studio or the API")
def deploy_command(processes_dir: str | None, forms_dir: str | None, force: bool) -> None:
    """Deploy the processes folder as one bundle (its diagrams may call each other): each process whose content is
    new becomes a new version.

    Content already deployed (any version) is left alone, and a version an analyst published from the studio or
    the API stays the one new orders get unless --force.
    """
    try:
        with unit_of_work():
            ensure_reference_data()
            bpmn, dmn, forms = read_bundle(processes_dir or current_app.config["PROCESSES_DIR"],
                                           forms_dir or current_app.config["FORMS_DIR"])
            if not bpmn:
                raise click.ClickException("No *.bpmn in the processes folder")
            warnings: list[dict] = []
            deployed = deploy_bundle(bpmn, dmn, forms, None, comment="flask deploy", source="repository",
                                     force=force, replace=True, warnings=warnings)
            for kept in deployed.kept:
                click.echo(f"{kept.details.get('file')}: kept {kept.message}")
            for definition, created in deployed.processes:
                state = "deployed" if created else "unchanged,"
                click.echo(f"{definition.process_id}: {state} {definition.process_id} v{definition.version}")
            for problem in warnings:
                click.echo(_problem_line(problem), err=True)
    except BespokeError as exc:  # nothing of this deploy is kept
        for problem in exc.details.get("problems", []):
            click.echo(_problem_line(problem), err=True)
        raise click.ClickException(exc.message) from exc


def _problem_line(problem: dict) -> str:
    """`  error: file: element_id «name»: message` — the element to open in the modeler first."""
    element = " ".join(filter(None, [problem.get("element_id"), f"«{problem['name']}»" if problem.get("name") else ""]))
    return f"  {problem.get('severity', 'error')}: {problem.get('file')}: {element or '-'}: {problem['message']}"


@click.command("demo")
@with_appcontext
@click.option("--orders", default=50, show_default=True, help="How many demo orders")
def demo_command(orders: int) -> None:
    """Load demo users (password 'demo'), partners and orders spread over every stage."""
    from app.demo import load_demo

    real = db.session.execute(select(User).where(User.is_demo.is_(False), User.login != "customer")).first()
    if real is not None:
        raise click.ClickException("The database holds non-demo users; refusing to load demo data into it")
    current_app.config["JOBS_INLINE"] = True
    summary = load_demo(orders)
    click.echo(summary)


@click.command("create-user")
@with_appcontext
@click.argument("login")
@click.option("--name", required=True)
@click.option("--role", "roles", multiple=True, required=True, help="Role code; repeat for several")
@click.option("--email", default=None)
@click.option("--department", default=None)
@click.password_option()
def create_user_command(login, name, roles, email, department, password) -> None:
    """Create a user with roles."""
    with unit_of_work():
        ensure_reference_data()
        if db.session.execute(select(User).where(User.login == login)).first():
            raise click.ClickException(f"User '{login}' already exists")
        try:
            create_user(login, name, password, list(roles), email=email, department=department)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"created {login} ({', '.join(roles)})")
