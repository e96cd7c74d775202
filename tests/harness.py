"""Run the Pulumi program under mocks, from a real stack file, the way the CLI would.

The implementation lives in `tools/mockrun.py` (shared with `python -m tools.render`); this
module keeps the names the tests import.

`run_stack("prod")` loads Pulumi.yaml's declared defaults and Pulumi.prod.yaml's values (as the
CLI hands them to the program: strings, with objects and numbers as JSON text), runs
__main__.py with `preview=False` mocks, and returns every registered resource with its inputs.
"""

from tools.mockrun import (  # noqa: F401  (re-exported for the tests)
    FAKE_API_KEY,
    FAKE_DIGEST,
    PROJECT,
    ROOT,
    Resource,
    Run,
    deep_merge,
    run_program,
    run_stack,
    stack_config,
)

__all__ = ["FAKE_API_KEY", "FAKE_DIGEST", "PROJECT", "ROOT", "Resource", "Run", "deep_merge",
           "run_program", "run_stack", "stack_config"]
