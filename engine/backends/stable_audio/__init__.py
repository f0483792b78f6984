"""Stable Audio Open 1.0 and Small: loops and beds at a length and tempo (our own implementation loading the official
files from the models folder; Stability AI Community License)."""
