"""The ``trainyard`` command line (console script ``trainyard = client.cli:main``)."""

from __future__ import annotations

import click

from client.cli.account import gpus, token
from client.cli.artifacts import download
from client.cli.compare import compare
from client.cli.datasets import datasets
from client.cli.loadgen import loadgen, reference_server
from client.cli.logs import logs
from client.cli.serving import deploy, predict
from client.cli.sweep import sweep
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
      trainyard sweep form.yaml --grid learning_rate=0.01,0.05 --grid batch_size=8,16
      trainyard compare TASK_A TASK_B
      trainyard loadgen http://127.0.0.1:8000/ping --rate 500 --duration 60
      trainyard COMMAND --help

    \b
    Shell completion (click's own), e.g. for bash in ~/.bashrc:
      eval "$(_TRAINYARD_COMPLETE=bash_source trainyard)"
    (zsh: zsh_source, fish: fish_source)
    """
    ctx.obj = {"url": url, "token": token}


for command in (*COMMANDS, compare, download, logs, datasets, deploy, predict, gpus, token, sweep, loadgen,
                reference_server):
    main.add_command(command)
