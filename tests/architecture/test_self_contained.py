"""A fresh clone runs the test suite with nothing beside it: CI (`.ci/run`) clones the repository
alone, so no test may read `../shared` or any other path outside the repository."""

from __future__ import annotations

import re

from tests.harness import ROOT

OUTSIDE = re.compile(r"""parents\[\d\]\.parent\b|\.\./shared|/work/shared|["']shared["']\s*/""")
"""Ways a test has reached past the repository root: `ROOT.parent`, a relative `../shared`."""


def test_no_test_reads_files_outside_the_repository():
    offenders = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
                 for path in sorted((ROOT / "tests").rglob("*.py"))
                 if path.name != "test_self_contained.py"
                 for number, line in enumerate(path.read_text().splitlines(), 1)
                 if OUTSIDE.search(line) and not line.lstrip().startswith("#")]
    assert not offenders, "tests reach outside the repository:\n" + "\n".join(offenders)


def test_the_crd_schemas_the_tests_use_are_in_the_repository():
    from tests.schemas import SCHEMAS

    assert SCHEMAS.is_relative_to(ROOT) and (SCHEMAS / "SOURCES.md").is_file()
    sources = (SCHEMAS / "SOURCES.md").read_text()
    files = sorted(SCHEMAS.rglob("*.json"))
    assert files
    unexplained = [str(f.relative_to(SCHEMAS)) for f in files
                   if f.parent.name not in sources or f.stem.split("_")[0] not in sources]
    assert not unexplained, f"schemas/SOURCES.md does not say where these come from: {unexplained}"
