"""Beat This! (beat and downbeat tracking) in plain torch: the log-mel front-end, the network and its chunked
inference. Pure tensor code; loading a checkpoint and post-processing are in ``engine.grid``."""

from .chunks import predict_chunked, split_starts
from .frontend import FPS, SAMPLE_RATE, LogMel
from .model import BeatThis, config_from

__all__ = ["FPS", "SAMPLE_RATE", "BeatThis", "LogMel", "config_from", "predict_chunked", "split_starts"]
