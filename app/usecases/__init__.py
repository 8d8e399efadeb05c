"""What the service does for a request, whatever route it came by: check a task form (``form_checks``
for new_task, ``mx_checks`` for MXServer's /train and /eval, both through ``parents`` and
``lineage_checks``), queue it (``submit``), stop a task (``stop``), publish a served model
(``deployments``). The routes in ``app.api`` translate a request into these calls and their
results into the protocol's reply; only these modules reach the dispatcher."""
