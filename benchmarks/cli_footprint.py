"""How light the CLI starts: `hakiri --help` and `hakiri --version`, best of N runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _measure import measure

HAKIRI = str(Path(sys.executable).with_name("hakiri"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print("| command | best wall time | peak RSS |")
    print("|---|---|---|")
    for argv in (["--help"], ["--version"]):
        runs = [measure([HAKIRI, *argv]) for _ in range(args.runs)]
        assert all(r.returncode == 0 for r in runs)
        best = min(r.seconds for r in runs)
        rss = max(r.peak_rss_mb for r in runs)
        print(f"| `hakiri {' '.join(argv)}` | {best * 1000:.0f} ms | {rss:.0f} MB |")


if __name__ == "__main__":
    main()
