"""Generation backends and their registry."""
