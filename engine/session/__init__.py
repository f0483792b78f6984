"""The session core: the single owner of an open project. The app and the headless bridge are two
front-ends over it; neither keeps its own copy of the song."""

from .core import Session, Transport
from .events import JobEnded, JobProgress, JobQueued, SaveFailed, SongChanged, TakesAdded
from .followups import FollowUp, FollowUpFailed, Lander
from .history import History
from .purpose import JobKind, Landing, Purpose, Requester
from .regenerate import Regenerate
from .regenerate import plan as plan_regenerate

__all__ = ["FollowUp", "FollowUpFailed", "History", "JobKind", "Lander", "Landing", "Purpose", "Requester", "Regenerate", "JobEnded", "JobProgress", "JobQueued", "SaveFailed", "Session", "SongChanged",
           "TakesAdded", "Transport", "plan_regenerate"]
