"""Where the tests find custom resources' JSON schemas: `schemas/` in the repository (see
schemas/SOURCES.md), so a fresh clone needs nothing beside it."""

from __future__ import annotations

from tests.harness import ROOT

SCHEMAS = ROOT / "schemas"
