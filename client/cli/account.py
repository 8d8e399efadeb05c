"""``trainyard gpus`` and ``trainyard token``: the fleet, and who this token is."""

from __future__ import annotations

import sys

import click

from client.api import ApiError
from client.cli.common import EXIT_ERROR, api_call, client_of, echo_json, example, table


def _mib(value) -> str:
    return "-" if not isinstance(value, (int, float)) else f"{int(value) // (1024 * 1024)} MiB"


@click.command(epilog=example("trainyard gpus", "trainyard gpus --json"))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@api_call
def gpus(ctx, as_json):
    """Live workers, their GPUs (memory, utilisation) and the task each holds."""
    workers = client_of(ctx).gpus()
    if as_json:
        for w in workers:
            echo_json(w)
        return
    rows = []
    for w in workers:
        for g in w.get("gpus") or [None]:
            gpu = "cpu" if g is None else f"{g.get('index')} {g.get('name', '')}".strip()
            mem = "" if g is None else f"{_mib(g.get('used_bytes'))}/{_mib(g.get('total_bytes'))}"
            util = "" if g is None or g.get("utilization_percent") is None else f"{g['utilization_percent']}%"
            rows.append([w["worker"], w.get("backend"), gpu, mem, util, w.get("current_task_id") or "-",
                         w.get("heartbeat_at")])
    table(["worker", "backend", "gpu", "memory used/total", "util", "task", "heartbeat"], rows)


@click.command(epilog=example("trainyard token", "TRAINYARD_TOKEN=... trainyard token --json"))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@api_call
def token(ctx, as_json):
    """Who you are: the token's user, its scope and expiry, and your projects with your role."""
    client = client_of(ctx)
    try:
        me = client.whoami()
    except ApiError as exc:
        if exc.status == 404:
            click.echo(f"Error: {client.url} has no accounts (GET /api/v0/whoami answered 404): this "
                       "server does not check tokens, so there is no one to show.", err=True)
            sys.exit(EXIT_ERROR)
        if exc.status == 401:
            sent = "no token was sent (set TRAINYARD_TOKEN or --token)" if not client.token else "the token was rejected"
            click.echo(f"Error: HTTP 401: {sent}. {exc.msg}".rstrip(), err=True)
            sys.exit(EXIT_ERROR)
        raise
    if as_json:
        echo_json(me)
        return
    user, tok = me.get("user") or {}, me.get("token") or {}
    click.echo(f"user: {user.get('name')} (id {user.get('id')}{', admin' if user.get('is_admin') else ''})")
    scope = "all projects" if tok.get("projects") is None else ", ".join(map(str, tok.get("projects")))
    click.echo(f"token: {tok.get('name')} (id {tok.get('id')}; {'read-only' if tok.get('read_only') else 'read-write'}; "
               f"{scope}; expires {tok.get('expires_at') or 'never'})")
    table(["project", "id", "role"], [[p.get("name"), p.get("id"), p.get("role")] for p in me.get("projects") or []])
