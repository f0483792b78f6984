"""The song document: data model, tempo map, key, ``song.json`` and the project folder."""

from .document import SCHEMA_VERSION, MigrationRegistry, load_song, save_song, song_from_dict, song_to_dict
from .key import Key
from .model import (
    MASTER,
    SAMPLE_RATE,
    STEMS,
    DawLink,
    EffectSlot,
    LyricLine,
    Section,
    Song,
    SongInfo,
    Style,
    Take,
    TimeRange,
    WordTime,
    new_id,
)
from .project import Project, project_path
from .tempo import PPQ, BarBeatTick, Grid, TempoMap, TempoSegment, TimeSignature

__all__ = [
    "MASTER", "PPQ", "SAMPLE_RATE", "SCHEMA_VERSION", "STEMS", "BarBeatTick", "DawLink", "EffectSlot", "Grid",
    "Key", "LyricLine", "MigrationRegistry", "Project", "Section", "Song", "SongInfo", "Style", "Take",
    "TempoMap", "TempoSegment", "TimeRange", "TimeSignature", "WordTime", "load_song", "new_id",
    "project_path", "save_song", "song_from_dict", "song_to_dict",
]
