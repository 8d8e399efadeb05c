"""The facts every role shares, each defined once: task statuses and types, the task form and
MXServer's request with their defaults, the network catalog, the result shape, what a task needs
to run, serving settings and ``Settings``. Imports pydantic and the standard library only,
never a package of ours: the API, serving, the workers and the client all import it."""
