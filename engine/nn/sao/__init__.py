"""Stable Audio Open in plain torch: the DiT, the Oobleck autoencoder, the T5 text encoder and the number
conditioners, under the official key names. Pure tensor code; files are read in ``engine.backends.stable_audio``."""
