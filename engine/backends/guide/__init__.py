"""The guide renderer: a deterministic CPU draft with drums, bass, keys and a guide vocal."""
