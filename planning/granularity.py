"""Derived figures that land in pod templates, rounded up to a stated grid so a small change
of an estimate does not re-render them.

The drain (terminationGracePeriodSeconds, vLLM's --shutdown-timeout, the workers' preStop) and
the admission bounds (--max-num-queued-reqs) are derived from the roofline's time per token and
the runnable requests, which both move whenever the memory estimate moves (a program upgrade
that refines the KV cache by 1 % changes the runnable requests, hence the batch, hence the time
per token). Any change of a pod template rolls the engine, and a multi-node group rolls as a
whole (R1 on 2 × 8 H100: a 40-minute restart). Rounded up to the next step of the R20 series
of preferred numbers (ISO 3: the twentieth roots of ten as the standard rounds them, 11-14 %
apart), a figure is at most 14.3 % above its estimate (1.4 -> 1.6 the widest gap) and
re-renders only when the estimate crosses a step.
"""

from __future__ import annotations

import math

R20 = (1.0, 1.12, 1.25, 1.4, 1.6, 1.8, 2.0, 2.24, 2.5, 2.8, 3.15, 3.55, 4.0, 4.5, 5.0, 5.6,
       6.3, 7.1, 8.0, 9.0)
"""The R20 preferred numbers of one decade (ISO 3, rounded as the standard prints them)."""
STEP = "the next R20 step (about 12 % apart)"
"""How a reason names the grid."""


def stable_ceiling(value: float) -> float:
    """The smallest R20 number at or above `value` (> 0). Examples: 42.5 -> 45, 190 -> 200,
    18 -> 18, 0.07 -> 0.071."""
    if value <= 0:
        raise ValueError(f"stable_ceiling needs a positive value, got {value}")
    decade = 10.0 ** math.floor(math.log10(value))
    # Three significant digits, as the standard prints the grid: 1.12 × 100 is
    # 112.00000000000001 in binary. 10 × decade closes the list: value is below it.
    return next(step for step in (float(f"{r * decade:.3g}") for r in (*R20, 10.0))
                if step >= value)


def stable_count(value: float) -> int:
    """A whole count at or above `value` on the R20 grid = ⌈stable_ceiling(value)⌉. Example:
    runnable 95 × 2 = 190 -> 200; 7 -> ⌈7.1⌉ = 8."""
    return math.ceil(stable_ceiling(value))
