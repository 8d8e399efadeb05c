"""What the service does for a request, whatever route it came by.

- Checking a task form: ``form_checks`` (new_task) and ``mx_checks`` (MXServer's /train and
  /eval), both through ``parents`` (the task a fine-tune or evaluation starts from) and
  ``lineage_checks``; ``split_checks`` (groups kept whole, ``group_checks``, and copies of a
  subject, ``subject_copies``).
- Queueing it (``submit``) and stopping a task (``stop``).
- Publishing a served model (``deployments``).
- Reading results honestly: ``comparison`` (paired tests of tasks tested on the same subjects,
  ``tested_subjects``) and ``sweep_selection`` (the task a sweep chooses on validation).

The routes in ``app.api`` translate a request into these calls and their results into the
protocol's reply; only these modules reach the dispatcher."""
