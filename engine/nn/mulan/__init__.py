"""MuQ-MuLan, the music/text embedding model DiffRhythm takes its style vector from, in plain torch.

``frontend`` (the mel spectrogram), ``muq`` (the MuQ audio backbone: conv stem and conformer), ``xlmr`` (the
XLM-R text encoder), ``heads`` (the MuLan transformer and the two towers) and ``model`` (the whole model, its
configuration and the clip averaging). Pure tensor code; the files are read by ``engine.style.encoder``.
"""

from .model import MuQMuLan, MuQMuLanConfig

__all__ = ["MuQMuLan", "MuQMuLanConfig"]
