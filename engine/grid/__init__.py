"""The beat grid of a take or any audio: beats, downbeats and the tempo curve (a Beat This!-compatible tracker, or
a DSP tracker when no model is installed), beat maps a DAW reads, and tempo lock onto the project's grid."""
