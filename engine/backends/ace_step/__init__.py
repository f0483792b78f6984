"""The ``ace-step`` backend: ACE-Step 1.5 (turbo or base) from the official download, driven by the song."""
