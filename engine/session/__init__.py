"""The session core (DESIGN.md §2): the single owner of an open project. The app and the headless bridge are two
front-ends over it; neither keeps its own copy of the song."""

from .core import Session, Transport
from .events import JobEnded, JobProgress, JobQueued, SaveFailed, SongChanged, TakesAdded
from .history import History

__all__ = ["History", "JobEnded", "JobProgress", "JobQueued", "SaveFailed", "Session", "SongChanged",
           "TakesAdded", "Transport"]
