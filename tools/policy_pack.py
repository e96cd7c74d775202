"""Build the policy pack as it is published: `python -m tools.policy_pack <dir>` writes a
directory that runs with no repository beside it (the pack's files plus the shared `facts`
package it reads), then `cd <dir> && pulumi install && pulumi policy publish <org>`.

A copy, not a dependency: `facts` is not published anywhere a requirements file could name, and
a symlink would not survive the archive `pulumi policy publish` uploads. tests/
test_policy_pack_standalone.py runs the built directory in a fresh interpreter.
"""

from __future__ import annotations

import argparse
import pathlib
import shutil

ROOT = pathlib.Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns("venv", "__pycache__", "*.pyc", ".pytest_cache")


def build(out: pathlib.Path) -> pathlib.Path:
    """Write the pack into `out` (which must not exist yet) and return it."""
    shutil.copytree(ROOT / "policy", out, ignore=SKIP)
    shutil.copytree(ROOT / "facts", out / "facts", ignore=SKIP)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path, help="directory to create")
    out = build(parser.parse_args().out)
    print(f"policy pack written to {out}; publish with: cd {out} && pulumi install && "
          "pulumi policy publish <org>")


if __name__ == "__main__":
    main()
