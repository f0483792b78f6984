"""DAW adapters: read tempo and play head where a DAW offers them, and land stems at a position. Each implements
``base.Adapter``; ``registry.adapter_for`` picks the project's from ``song.daw.adapter``."""
