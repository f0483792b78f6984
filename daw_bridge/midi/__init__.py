"""MIDI: ports with an explicit API, the learnable map, clock/SPP/MMC following."""
