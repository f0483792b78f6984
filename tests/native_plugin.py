"""A real plugin-shaped shared object for the consent tests: a ``NAME.vst3`` bundle whose ``.so`` has a constructor
that writes a marker file, so a test sees whether the plugin's code ran, not whether some check was called."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CONSTRUCTOR = r"""
#include <stdio.h>
__attribute__((constructor)) static void ran(void) {
    FILE *f = fopen(MARKER, "w");
    if (f) { fputs("the plugin's code ran\n", f); fclose(f); }
}
int version = VERSION;
"""


def build_plugin(bundle: Path, marker: Path, version: int = 1) -> Path:
    """``bundle`` (a ``NAME.vst3`` folder) holding ``Contents/x86_64-linux/NAME.so``, whose constructor writes
    ``marker``; ``version`` changes its bytes. Skipped, saying why, only when gcc is missing."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("not run: gcc is missing, so the test cannot build the shared object whose constructor would "
                    "show a plugin's code running")
    bundle.parent.mkdir(parents=True, exist_ok=True)
    src = bundle.parent / f"{bundle.stem}.c"
    src.write_text(CONSTRUCTOR)
    so = bundle / "Contents" / "x86_64-linux" / f"{bundle.stem}.so"
    so.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([gcc, "-shared", "-fPIC", f'-DMARKER="{marker}"', f"-DVERSION={version}", "-o", str(so),
                    str(src)], check=True, capture_output=True)
    return bundle
