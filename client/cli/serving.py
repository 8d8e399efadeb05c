"""``trainyard deploy`` and ``trainyard predict``: serve a trained task, ask it for predictions."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from client.cli.common import EXIT_ERROR, api_call, client_of, echo_json, example, table


@click.command(epilog=example("trainyard deploy TASK2612011200000001 --name sgn --wait",
                              "trainyard deploy TASK2612011200000001 --batch-size 8 --max-worker 2"))
@click.argument("task_id")
@click.option("--name", help="The model's name (default: the task id).")
@click.option("--version", help="Its version (default: the next number).")
@click.option("--batch-size", type=int, help="Rows per batched inference (1).")
@click.option("--max-batch-delay", type=float, help="Milliseconds to wait for a batch to fill (5).")
@click.option("--min-worker", type=int, help="Model instances per serving process (1).")
@click.option("--max-worker", type=int, help="At most this many while requests wait (= min).")
@click.option("--description")
@click.option("--wait", "wait_", is_flag=True, help="Wait until it is READY (exit 0) or FAILED (exit 1).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@api_call
def deploy(ctx, task_id, name, version, batch_size, max_batch_delay, min_worker, max_worker, description,
           wait_, as_json):
    """Deploy a SUCCEEDED task as a served model (a worker exports and verifies its ONNX file)."""
    client = client_of(ctx)
    reply = client.deploy(task_id, name=name, version=version, batch_size=batch_size,
                          max_batch_delay=max_batch_delay, min_worker=min_worker, max_worker=max_worker,
                          description=description)
    model = reply["model"]
    status = model.get("status")
    if wait_:
        served = client.wait_served(model["name"], str(model["version"]))
        status, model = served.get("status"), {**model, "status": served.get("status"),
                                               "error": served.get("error"), "verification": served.get("verification")}
    if as_json:
        echo_json(model)
    else:
        click.echo(f"{model['name']} version {model['version']} {status}"
                   + (f" ({model['error']})" if model.get("error") else "")
                   + f"; predict: trainyard predict {model['name']} FILE")
    if status == "FAILED":
        sys.exit(EXIT_ERROR)


def _body(value: str):
    """FILE: a .npz or DPABI .zip (sent as a file), or a .json body; '-' reads JSON from stdin."""
    if value == "-":
        return json.load(sys.stdin), None
    path = Path(value)
    if path.suffix.lower() == ".json":
        return json.loads(path.read_text()), None
    return None, str(path)


@click.command(epilog=example("trainyard predict sgn subjects.npz", "trainyard predict sgn matrix.json --json",
                              "echo '{\"matrix\": [[...]]}' | trainyard predict sgn -"))
@click.argument("model")
@click.argument("source", metavar="FILE")
@click.option("--version", help="A version other than the default.")
@click.option("--json", "as_json", is_flag=True, help="The whole reply as JSON.")
@click.pass_context
@api_call
def predict(ctx, model, source, version, as_json):
    """Predict with a served connectome model: FILE is .npz / DPABI .zip, or .json ({"matrix": R×R})."""
    if source != "-" and not Path(source).is_file():
        raise click.BadParameter(f"{source!r} is not a file", param_hint="FILE")
    body, file = _body(source)
    reply = client_of(ctx).predict(model, body=body, file=file, version=version)
    if as_json:
        echo_json(reply)
        return
    classes = reply.get("class_names") or []
    table(["subject", "class", *(f"p_{c}" for c in classes)],
          [[p.get("subject"), p.get("class"), *(f"{p.get('probabilities', {}).get(c, 0):.4f}" for c in classes)]
           for p in reply.get("predictions", [])],
          title=f"{reply.get('model')} version {reply.get('version')}")
