"""How long landing a section's four stems takes, by route: into a closed Ardour session (the session file), and
into the Ardour GUI with the session open (the SongBridge action, triggered over OSC). Needs Debian's Ardour 7,
Xvfb and jackd; prints one line per landing.

    python benchmarks/landing.py [--seconds 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each stem (default 20 s)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    import os

    from daw_bridge.adapters import ardour_live as live
    from daw_bridge.adapters.ardour import create_session, enable_osc
    from daw_bridge.adapters.ardour_route import land_stems
    from tests.daw_bridge.ardour_gui import ArdourGui
    from tests.daw_bridge.test_ardour import stems_for

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["XDG_CONFIG_HOME"] = str(root / "config")
        takes = [stems_for(root, f"take-{i:03d}", seconds=args.seconds, level=0.5 / (i + 1))
                 for i in range(args.repeat)]
        closed = create_session(root / "Closed", 120.0, 4)
        times = []
        for i, stems in enumerate(takes):
            got = land_stems(closed, stems, 10.0, 10.0 + args.seconds, "sb-chorus-", f"take-{i:03d}", 120.0, 4, 6.0)
            times.append(got.seconds)
            print(f"closed route, take {i + 1}: {got.seconds:.2f} s ({len(got.regions)} stems of {args.seconds:g} s)")
        again = land_stems(closed, takes[-1], 10.0, 10.0 + args.seconds, "sb-chorus-", f"take-{len(takes) - 1:03d}",
                           120.0, 4, 6.0)
        print(f"closed route, the same take again (sources reused): {again.seconds:.2f} s")
        print(f"closed route median: {statistics.median(times):.2f} s")

        gui = ArdourGui(root / "config")
        try:
            live.install(gui.config)
            session = create_session(root / "Open", 120.0, 4)
            enable_osc(session, "Open")
            gui.open(session)
            times = []
            for i, stems in enumerate(takes):
                got = land_stems(session, stems, 10.0, 10.0 + args.seconds, "sb-chorus-", f"take-{i:03d}", 120.0, 4,
                                 6.0)
                times.append(got.seconds)
                print(f"live route, take {i + 1}: {got.seconds:.2f} s ({got.route}, "
                      f"{sum(r[4] == 'imported' for r in got.regions)} imported)")
            again = land_stems(session, takes[-1], 10.0, 10.0 + args.seconds, "sb-chorus-",
                               f"take-{len(takes) - 1:03d}", 120.0, 4, 6.0)
            print(f"live route, the same take again (sources reused): {again.seconds:.2f} s")
            print(f"live route median: {statistics.median(times):.2f} s")
        finally:
            gui.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
