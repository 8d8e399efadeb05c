"""The ``trainyard`` command line (console script ``trainyard = client.cli:main``)."""

from __future__ import annotations

import click

from client.cli.loadgen import loadgen, reference_server
from client.cli.tasks import COMMANDS


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="trainyard")
@click.option("--url", envvar="TRAINYARD_URL", help="The API (default: TRAINYARD_URL, the profile file, or http://127.0.0.1:8000).")
@click.option("--token", envvar="TRAINYARD_TOKEN", help="A bearer token (default: TRAINYARD_TOKEN or the profile file).")
@click.pass_context
def main(ctx: click.Context, url: str | None, token: str | None) -> None:
    """trainyard's command line.

    \b
    Examples:
      trainyard submit form.yaml --follow
      trainyard ls --status SUCCEEDED --sort -test_accuracy
      trainyard loadgen http://127.0.0.1:8000/ping --rate 500 --duration 60
      trainyard COMMAND --help
    """
    ctx.obj = {"url": url, "token": token}


main.add_command(loadgen)
main.add_command(reference_server)
for command in COMMANDS:
    main.add_command(command)
