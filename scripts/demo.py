"""The main job, end to end, on this machine alone: `make demo`.

Creates a demo project, starts the demo REST API on 127.0.0.1, runs every pipeline of the
project with the real `hakiri` command, and prints the answers to a few queries. The project
is left in .demo/demo so you can keep exploring it (`cd .demo/demo && hakiri pipeline list`).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from hakiri.testing.demo_api import DemoApi

REPO = Path(__file__).resolve().parent.parent
WORKDIR = REPO / ".demo"
HAKIRI = str(Path(sys.executable).with_name("hakiri"))
DEFAULT_PORT = 8765

QUERIES = [
    "select count(*) as echoed_requests from httpbin_anything",
    "select state, count(*) as issues, max(updated_at) as newest from issues "
    "group by state order by state",
    "select user.login as author, count(*) as issues from issues_snapshot "
    "group by author order by issues desc, author limit 5",
]


def hakiri(*args: str, cwd: Path) -> None:
    print(f"\n$ hakiri {shlex.join(args)}", flush=True)
    subprocess.run([HAKIRI, *args], cwd=cwd, check=True)


def main() -> int:
    shutil.rmtree(WORKDIR, ignore_errors=True)
    WORKDIR.mkdir()
    # The scaffolded manifest names :8765; any free port works since we rewrite the URLs.
    try:
        api = DemoApi(port=DEFAULT_PORT, issues=2_500).start()
    except OSError:
        api = DemoApi(port=0, issues=2_500).start()
    with api:
        print(f"demo API listening on {api.url}")
        hakiri("init", "demo", cwd=WORKDIR)
        project = WORKDIR / "demo"
        manifest = project / "hakiri.toml"
        # No internet needed: the httpbin pipeline talks to the demo API's httpbin echo.
        text = manifest.read_text().replace("https://httpbin.org", api.url)
        manifest.write_text(text.replace("http://127.0.0.1:8765", api.url))
        hakiri("run", "--all", cwd=project)
        for sql in QUERIES:
            hakiri("query", sql, cwd=project)
        hakiri("pipeline", "list", cwd=project)
    print(f"\nThe demo project is in {project.relative_to(REPO)}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
