"""Every operation of the API and the serving role, keyed by (Flask endpoint, method): what it
takes, what it answers with each status. ``webcommon.openapi.document`` turns this table and the apps'
URL maps into the OpenAPI document; a route missing here fails the document's build (and the
test that builds it), so a new route cannot go undocumented.

The statuses are what the route's code can answer; the ones every route shares are added by the
document: 400 (a NUL character in the URL or query, ``app.nul_bytes``), 401 (no valid token, on
every route but the health ones) and 503 (the database is unreachable, where the route reads it).
"""

from __future__ import annotations

from webcommon.openapi.common import (ACCOUNTS, BINARY, DATA, DOCUMENT, EVENTS, FLEET, FRACTAL, HEALTH, HTML, MMS,
                                      MODELS, MX, NOT_MODIFIED, PNG, PROMETHEUS, TASKS, WEB)
from webcommon.openapi.spec_types import Op, Param, Raw, choice, fields_as_query, integer, number, string
from contracts import foreign_replies as f
from contracts import replies as r
from app.schemas.accounts import LimitsForm, MemberForm, ProjectForm, TokenForm
from app.schemas.deploy import DeployForm
from contracts.mxserver_request import StopRequest
from app.schemas.mxserver_desc import TestDesc, TrainDesc
from contracts.mxserver_request import EvalRequest, TrainRequest
from contracts.selection import DEFAULT_METRIC, VALIDATION_METRICS
from contracts.serving_settings import ServingSettings
from contracts.task_form import NewTaskForm

JSON_ERRORS = (400, 413, 415)  # app.api.requests.json_body: unparseable, too large, not JSON

DATASET_UPLOAD = Raw("multipart/form-data", {
    "type": "object", "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary",
                 "description": "an .npz or DPABI .zip (connectome); an image .npz, zip/tar of class "
                                "folders, or .rec + .idx (image): up to 3 files"},
        "name": {"type": "string", "description": "defaults to the file's stem"},
        "kind": {"type": "string", "enum": ["connectome", "image"], "default": "connectome"},
        "channels": {"type": "string", "enum": ["1", "3"], "default": "3"},
        "image_size": {"type": "string", "description": "HxW, each 8..4096, e.g. 28x28"},
    }})
ONNX_UPLOAD = Raw("multipart/form-data", {
    "type": "object", "required": ["path"],
    "properties": {"path": {"type": "string", "format": "binary", "description": "the .onnx file"},
                   "description": {"type": "string", "maxLength": 2000}}})
SERVING_SETTINGS = (*fields_as_query(ServingSettings), Param("synchronous", choice("true", "false", "1", "0")))

API: dict[tuple[str, str], Op] = {
    ("openapi.spec", "GET"): Op("This document", HEALTH, {200: DOCUMENT}, database=False),
    ("openapi.docs", "GET"): Op("This document as a page", HEALTH, {200: HTML}, database=False),
    ("health.ping", "GET"): Op("Liveness: answers without the database", HEALTH, {200: r.Ping},
                               open=True, database=False),
    ("health.healthz", "GET"): Op("Readiness: the database and the broker", HEALTH,
                                  {200: r.Health, 503: r.Health}, open=True, database=False),
    ("metrics.metrics", "GET"): Op("Prometheus metrics", HEALTH, {200: PROMETHEUS}, database=False),
    ("accounts.whoami", "GET"): Op("The caller: its user, token and projects", ACCOUNTS, {200: r.Whoami}),
    ("accounts.list_projects", "GET"): Op("The projects the caller sees, with its role", ACCOUNTS, {200: r.Projects}),
    ("accounts.create_project", "POST"): Op("Make a project (a service admin)", ACCOUNTS, {201: r.ProjectCreated},
                                            (*JSON_ERRORS, 409, 422), body=ProjectForm),
    ("accounts.show_project", "GET"): Op("A project: its limits and what it runs now", ACCOUNTS,
                                         {200: r.ProjectDetail}, (404,)),
    ("accounts.set_limits", "PATCH"): Op("Set a project's limits (a service admin)", ACCOUNTS, {200: r.ProjectDetail},
                                         (*JSON_ERRORS, 404, 422), body=LimitsForm),
    ("accounts.audit_log", "GET"): Op(
        "Who did what, newest first (service admin: everything; project admin: its projects)", ACCOUNTS,
        {200: r.AuditLog},
        query=(Param("proj_id", string()), Param("action", string()), Param("before_id", integer(0, 2**62)),
               Param("limit", integer(1, 1000)))),
    ("accounts.list_members", "GET"): Op("A project's members", ACCOUNTS, {200: r.Members}, (404,)),
    ("accounts.add_member", "POST"): Op("Add or change a member (a project admin)", ACCOUNTS,
                                        {201: r.MemberAdded}, (*JSON_ERRORS, 404, 422), body=MemberForm),
    ("accounts.remove_member", "DELETE"): Op("Remove a member", ACCOUNTS, {200: r.Done}, (404,)),
    ("accounts.create_token", "POST"): Op("Make a token (its secret is in this answer only)", ACCOUNTS,
                                          {201: r.TokenCreated}, (*JSON_ERRORS, 422), body=TokenForm),
    ("accounts.list_tokens", "GET"): Op("The caller's tokens (a service admin's: everyone's)", ACCOUNTS,
                                        {200: r.Tokens}),
    ("accounts.revoke_token", "DELETE"): Op("Revoke a token", ACCOUNTS, {200: r.TokenRevoked}, (404,)),
    ("tasks.new_task", "POST"): Op(
        "Submit a task (NEURO-LEARN's form)", TASKS, {201: r.NewTaskReply}, (*JSON_ERRORS, 422),
        body=NewTaskForm,
        description="A JSON body is read whatever its Content-Type says (NEURO-LEARN's client labels it "
                    "form-urlencoded)."),
    ("tasks.get_task", "GET"): Op(
        "Poll a task", TASKS, {200: (r.TaskLight, r.TaskFull), 304: NOT_MODIFIED}, (404,),
        query=(Param("view", choice("light", "full")),
               Param("wait", number(0, 60), description="seconds to wait for a change of the If-None-Match ETag"),
               Param("If-None-Match", string(), "header"))),
    ("tasks.get_epochs", "GET"): Op("A task's epochs", TASKS, {200: r.Epochs}, (404,)),
    ("compare.compare", "GET"): Op(
        "Tasks side by side: metrics with their intervals, paired tests of every pair tested on the same subjects",
        TASKS, {200: r.Comparison}, (400, 404),
        query=(Param("ids", string(), required=True, description="2 to 20 task ids, comma-separated"),),
        description="Accuracy: McNemar's exact test; balanced accuracy and ROC AUC: a paired bootstrap over the "
                    "subjects (2,000 resamples, seeded). With two or more pairable pairs, p_value_holm is Holm's "
                    "correction. A task the caller may not see is 404, as on /api/v0/tasks/{task_id}."),
    ("tasks.list_all", "GET"): Op(
        "List tasks, filtered and sorted, a page at a time", TASKS, {200: r.TaskPage},
        query=(Param("proj_id", string()), Param("status", choice(*r.Status.__args__)),
               Param("model", string()), Param("task_type", string()), Param("sweep_id", string()),
               Param("dataset", string(), description="named in any role (train, val or test)"),
               Param("parent", string(), description="the task it fine-tunes or evaluates"),
               Param("limit", integer(1, 500)),
               Param("sort", string(), description="-created_at (default), created_at, or ±a sortable metric"),
               Param("cursor", string()))),
    ("sweeps.show_sweep", "GET"): Op(
        "A sweep's tasks and its selection record: the task chosen on validation, from how many", TASKS,
        {200: r.Sweep}, (400, 404, 409),
        query=(Param("metric", choice(*sorted(VALIDATION_METRICS)),
                     description=f"what the choice is made on ({DEFAULT_METRIC} by default; a loss is "
                                 "minimised, a score maximised); a test metric is refused"),),
        description="Only the caller's tasks count; a sweep with none of them is 404. 409: the sweep mixes "
                    "cross-validated and single-split tasks."),
    ("tasks.stop", "POST"): Op("Stop a task", TASKS, {200: r.StopReply}, (404, 409)),
    ("tasks.download_model", "GET"): Op(
        "Download a task's weights", TASKS, {200: BINARY}, (404,),
        query=(Param("kind", choice("weights", "best_weights")),)),
    ("tasks.model_info", "GET"): Op("How to load a task's weights", TASKS, {200: r.ModelInfo}, (404,)),
    ("tasks.plot", "GET"): Op("A task's curves or confusion picture", TASKS, {200: PNG}, (404,)),
    ("task_logs.get_logs", "GET"): Op(
        "A task's log, a page at a time or followed (server-sent events)", TASKS,
        {200: (r.LogPage, EVENTS), 204: NOT_MODIFIED}, (404,),
        query=(Param("cursor", integer(0, 2**31 - 1)), Param("limit", integer(1, 1000)),
               Param("attempt", integer(0, 10_000)), Param("follow", choice("0", "1", "true", "false")),
               Param("Last-Event-ID", string(), "header"))),
    ("task_events.task_events", "GET"): Op(
        "A task's status and epochs as server-sent events, ending at its final state", TASKS,
        {200: EVENTS, 204: NOT_MODIFIED}, (404,),
        query=(Param("Last-Event-ID", string(), "header",
                     description="<attempt>.<epoch> of the last event seen: resume after it"),)),
    ("queues.list_queues", "GET"): Op("Each queue's depth, its pools' pending work, the tasks workers hold",
                                      FLEET, {200: r.Queues}),
    ("web.index", "GET"): Op("The dashboard (redirects to its experiments page)", WEB, {302: NOT_MODIFIED},
                             open=True, database=False),
    ("web.signin", "GET"): Op("The dashboard's sign-in page", WEB, {200: HTML}, open=True, database=False),
    ("web.page", "GET"): Op("A dashboard page (a shell; its data come from this API)", WEB, {200: HTML},
                            (404,), open=True, database=False),
    ("web.task", "GET"): Op("The dashboard's page of a task", WEB, {200: HTML}, open=True, database=False),
    ("web.static", "GET"): Op("The dashboard's scripts and styles", WEB, {200: Raw("application/octet-stream")},
                              (404,), open=True, database=False),
    ("checkpoints.list_checkpoints", "GET"): Op("An MXNet task's kept checkpoints", TASKS,
                                                {200: r.Checkpoints}, (404,)),
    ("checkpoints.download_checkpoint", "GET"): Op("Download a checkpoint", TASKS, {200: BINARY}, (404,)),
    ("deploy.deploy", "POST"): Op(
        "Serve a SUCCEEDED task's model (exported to ONNX by a worker)", MODELS, {202: r.DeployReply},
        (*JSON_ERRORS, 404, 409, 422), body=DeployForm, body_required=False),
    ("datasets.upload", "POST"): Op(
        "Register a dataset", DATA, {201: r.DatasetReply, 202: r.DatasetReply}, (409, 413, 422),
        body=DATASET_UPLOAD,
        description="Connectome uploads are validated at once (201); image uploads are checked by the "
                    "MXNet worker (202, VALIDATING)."),
    ("datasets.list_all", "GET"): Op("List datasets", DATA, {200: r.Datasets}),
    ("datasets.show", "GET"): Op("Describe a dataset", DATA, {200: r.Dataset}, (404,)),
    ("datasets.delete", "DELETE"): Op("Delete a dataset no task uses", DATA, {200: r.Done}, (404, 409)),
    ("catalog.list_models", "GET"): Op("The networks tasks can train", MODELS, {200: r.Catalog}, database=False),
    ("gpus.list_gpus", "GET"): Op("Live workers and their GPUs", FLEET, {200: r.Fleet}),
    ("gpus.mxserver_gpu", "GET"): Op("GPUs in MXServer's shape", MX, {200: r.MxGpus}),
    ("mxserver.train", "POST"): Op(
        "Train (MXServer)", MX, {200: f.MxState}, (*JSON_ERRORS, 409, 422),
        body=(TrainRequest, TrainDesc, r.Open)),
    ("mxserver.evaluate", "POST"): Op(
        "Evaluate a trained task (MXServer)", MX, {200: f.MxState}, (*JSON_ERRORS, 409, 422),
        body=(EvalRequest, TestDesc, r.Open)),
    ("mxserver.stop", "POST"): Op(
        "Stop a task (MXServer)", MX, {200: f.MxState, 404: f.MxState, 409: f.MxState}, (*JSON_ERRORS, 422),
        body=StopRequest),
    ("mms_management.register", "POST"): Op(
        "Register a model (TorchServe)", MMS, {200: f.TorchServeStatus, 202: f.TorchServeStatus},
        (400, 404, 409, 422),
        query=(Param("url", string(), required=True,
                     description="task:<id> (or the bare id) or onnx:<name>[/<version>]"),
               Param("model_name", string()), Param("initial_workers", integer(1, 32)),
               Param("response_timeout", number(1, 600)), *SERVING_SETTINGS)),
    ("mms_management.list_models", "GET"): Op(
        "List models (TorchServe)", MMS, {200: f.TorchServeList}, (400,),
        query=(Param("limit", integer(1, 1000)), Param("next_page_token", integer(0, 10**9)))),
    ("mms_management.describe", "GET"): Op("Describe a model (TorchServe)", MMS,
                                           {200: f.TorchServeModels}, (404,)),
    ("mms_management.scale", "PUT"): Op(
        "Scale a model's workers (TorchServe)", MMS, {200: f.TorchServeStatus, 202: f.TorchServeStatus},
        (400, 404), query=SERVING_SETTINGS),
    ("mms_management.set_default", "PUT"): Op("Set the default version (TorchServe)", MMS,
                                              {200: f.TorchServeStatus}, (404,)),
    ("mms_management.unregister", "DELETE"): Op("Unregister a model (TorchServe)", MMS,
                                                {200: f.TorchServeStatus}, (404,)),
    ("fractal_models.list_names", "GET"): Op("Model names (Fractal)", FRACTAL, {200: f.FractalNames}),
    ("fractal_models.information", "GET"): Op("Models with their descriptions (Fractal)", FRACTAL,
                                              {200: f.FractalInformation}),
    ("fractal_models.describe", "GET"): Op("Describe a model (Fractal)", FRACTAL, {200: f.FractalModel}, (404,)),
    ("fractal_models.edit_description", "POST"): Op(
        "Edit a model's description (Fractal)", FRACTAL, {200: f.FractalReply}, (*JSON_ERRORS, 404, 422),
        body=r.Open),
    ("fractal_models.upload", "PUT"): Op("Upload an ONNX model (Fractal)", FRACTAL, {201: f.FractalModel},
                                         (404, 413, 422), body=ONNX_UPLOAD,
                                         description="An existing name gets a new version, in its project; "
                                                     "a name of a project the caller cannot see is 404."),
    ("fractal_models.delete", "DELETE"): Op("Delete a model (Fractal)", FRACTAL, {200: f.FractalReply}, (404,)),
}
