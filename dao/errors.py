"""Domain errors raised below ``app/``; only ``app/`` maps them to HTTP status codes."""


class NotFound(LookupError):
    """Something named by id or name does not exist."""


class TaskNotFound(NotFound):
    def __init__(self, task_id: str):
        super().__init__(f"task {task_id!r} does not exist")
        self.task_id = task_id


class DatasetNotFound(NotFound):
    def __init__(self, name: str):
        super().__init__(f"dataset {name!r} does not exist")
        self.name = name


class InvalidTransition(RuntimeError):
    """A state change that the task's current state does not allow."""

    def __init__(self, task_id: str, status: str, action: str):
        super().__init__(f"task {task_id!r} is {status}; it cannot be {action}")
        self.task_id = task_id
        self.status = status


class DatasetExists(RuntimeError):
    def __init__(self, name: str):
        super().__init__(f"dataset {name!r} already exists")
        self.name = name


class DatasetInUse(RuntimeError):
    def __init__(self, name: str, task_ids: list[str]):
        shown = ", ".join(task_ids[:5])
        super().__init__(f"dataset {name!r} is used by queued or running tasks: {shown}")
        self.name = name
        self.task_ids = task_ids


class ModelNotFound(NotFound):
    def __init__(self, name: str, version: str | None = None):
        what = f"model {name!r}" if version is None else f"model {name!r} version {version!r}"
        super().__init__(f"{what} is not registered")
        self.name, self.version = name, version


class ModelExists(RuntimeError):
    def __init__(self, name: str, version: str):
        super().__init__(f"model {name!r} version {version!r} is already registered")
        self.name, self.version = name, version
