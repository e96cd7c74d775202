"""Print a stack's deployment plan: what it runs on and why each number is what it is.

    python -m tools.plan prod

Needs only Python: no Pulumi CLI, no cluster. The same figures are the stack's `plan` output.
Exit status 1 (with the reasons) when the stack's config cannot work.
"""

from __future__ import annotations

import argparse
import sys

from planning.config import ConfigError, parse
from planning.plan import Plan, make_plan
from planning.stack_files import stack_values


def report(stack: str, plan: Plan) -> str:
    """The plan as text, one figure a line with its reason."""
    out = plan.outputs()
    split = out["split"]
    lines = [
        f"Stack {stack}: {out['model']} on {plan.gpu.name}",
        f"  GPUs            {out['gpusPerReplica']} per replica, {out['gpusTotal']} in total "
        f"(at the most replicas)",
        f"  split           TP {split['tensorParallel']} × PP {split['pipelineParallel']} × "
        f"DP {split['dataParallel']}   — {plan.reasons['split']}",
        f"  weights         {out['weightsPerGpuGib']} GiB per GPU   — {plan.reasons['weights']}",
        f"  KV cache        {out['kvCacheGibPerGpu']} GiB per GPU, {out['kvCacheTokens']} tokens"
        f"   — {plan.reasons['kvCache']}",
        f"  concurrency     {out['maxConcurrency']} full-length requests per replica   — "
        f"{plan.reasons['concurrency']}",
        f"  memory          request {out['memoryRequestGib']} GiB, limit "
        f"{out['memoryLimitGib']} GiB   — {plan.reasons['memory']}",
        f"  /dev/shm        {out['shmGib']} GiB   — {plan.reasons['shm']}",
        f"  start-up        {out['startupBudgetSeconds']} s   — {plan.reasons['startup']}",
        f"  grace period    {out['terminationGraceSeconds']} s   — {plan.reasons['grace']}",
        f"  rollout wait    {out['rolloutTimeoutSeconds']} s   — {plan.reasons['rollout']}",
        f"  autoscaler      {out['autoscalerTargetPerReplica']} requests per replica   — "
        f"{plan.reasons['autoscaler']}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point: print the plan for each named stack."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stacks", nargs="+", help="stack names (Pulumi.<stack>.yaml)")
    args = parser.parse_args(argv)
    status = 0
    for stack in args.stacks:
        try:
            print(report(stack, make_plan(parse(stack_values(stack)))))
        except ConfigError as error:
            print(f"Stack {stack}: {error}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
