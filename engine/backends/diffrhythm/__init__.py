"""The DiffRhythm-compatible neural backend: tokens, checkpoints, VAE, style and the backend itself."""
