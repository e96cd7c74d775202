"""How a reason or report reads a count: "1 GPU", "2 GPUs" (a plan is read by people)."""


def counted(count: int | float, noun: str) -> str:
    """`count` and `noun`, the noun in plural unless the count is exactly one."""
    return f"{count:g} {noun}" if count == 1 else f"{count:g} {noun}s"
