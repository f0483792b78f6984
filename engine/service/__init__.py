"""The engine service: jobs in a worker (process or thread), progress events, cancel, crash recovery, and a
network API for other machines (``engine.service.api``)."""

from .events import Cancelled, Event, Failed, Finished, Progress, Queued, Started
from .jobs import (
    PRIORITY_BATCH,
    PRIORITY_INTERACTIVE,
    PRIORITY_SECTION,
    GenerateJob,
    GridJob,
    JobInfo,
    RenderJob,
    SleepJob,
    SplitJob,
)
from .local import EngineService
from .protocol import Engine

__all__ = [
    "PRIORITY_BATCH", "PRIORITY_INTERACTIVE", "PRIORITY_SECTION", "Cancelled", "Engine", "EngineService", "Event",
    "Failed", "Finished", "GenerateJob", "GridJob", "JobInfo", "Progress", "Queued", "RenderJob", "SleepJob", "SplitJob",
    "Started",
]
