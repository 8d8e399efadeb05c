"""The ``trainyard`` command line (console script ``trainyard = client.cli:main``)."""

from __future__ import annotations

import click

from client.cli.loadgen import loadgen, reference_server


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="trainyard")
def main() -> None:
    """trainyard's command line.

    \b
    Examples:
      trainyard loadgen http://127.0.0.1:8000/ping --rate 500 --duration 60
      trainyard loadgen --help
    """


main.add_command(loadgen)
main.add_command(reference_server)
