"""Style vectors for the DiffRhythm DiT: MuQ-MuLan from a text prompt or a reference clip, saved style presets,
and the embedding cache. ``files`` finds the encoder in the model folder, ``encoder`` loads and runs it,
``reference`` prepares a reference clip as DiffRhythm does, ``presets`` stores named styles, ``embedding``
decides where a take's style vector comes from."""
