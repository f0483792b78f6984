"""DAW adapters: read tempo and play head where a DAW offers them, and land stems at a position."""
