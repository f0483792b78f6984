"""Audio: file I/O, effect chains, playback and export. Never imports torch."""
