"""The program's own modules, found by walking the tree, for the architecture tests that read
every one of them (a new package is covered without editing a test)."""

from __future__ import annotations

import os
import pathlib

from tests.harness import ROOT

SKIPPED_DIRECTORIES = {"tests", "__pycache__", "rendered", "node_modules"}
"""Beside these, every hidden directory (.git, .venv-*) and every `venv*` is skipped."""


def program_modules(root: pathlib.Path = ROOT) -> list[pathlib.Path]:
    """Every Python module of the program, the policy pack, tools, benchmark and router; none
    of the tests and none of a virtual environment's."""
    found = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = [d for d in subdirectories if d not in SKIPPED_DIRECTORIES
                             and not d.startswith((".", "venv"))]
        found += [pathlib.Path(directory) / f for f in files if f.endswith(".py")]
    return sorted(found)


def outside(package: str) -> list[pathlib.Path]:
    """The program's modules that are not in `package`."""
    return [m for m in program_modules() if m.relative_to(ROOT).parts[0] != package]
