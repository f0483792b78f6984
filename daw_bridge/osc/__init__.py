"""OSC: the address table, the server (translate and enqueue) and reply encoding."""
