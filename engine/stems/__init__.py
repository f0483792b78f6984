"""Stem separation with demucs' HTDemucs (loaded from the models folder after an allow-list check): a take's mix,
or any audio file, into vocal, drums, bass and other (or vocal and instrumental)."""
