"""DAW bridge: OSC, MIDI and DAW adapters. No Qt and no torch here."""
