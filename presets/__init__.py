"""Shipped presets (styles, effect chains, MIDI maps, generation settings) and their schema. Stdlib only."""
