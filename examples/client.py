"""How a client uses the traffic layer (replaces the seeds' `smart_route`).

One base URL, one key of your own, and a model *alias* instead of a routing rule in every
client: the router sends `internal-default` to the local DeepSeek and, when it is down,
saturated (429) or failing (5xx) before the first token, to the cloud API; `deepseek-r1-32b`
never leaves the cluster. Keys never live in code:

    export LLM_BASE_URL=https://llm.example.com/v1
    export LLM_API_KEY=$(kubectl -n llm-serving get secret \
        prod-deepseek-r1-32b-router-client-code-review -o jsonpath='{.data.api-key}' | base64 -d)
    python examples/client.py code_review "Review this diff: ..."

Needs the OpenAI SDK (`pip install openai`). The SDK retries 429 and 5xx itself, honouring
Retry-After (up to 60 s); a 400 (over the max-tokens cap) or 413 (prompt too large) is final.
"""

from __future__ import annotations

import os
import sys

from openai import OpenAI

ALIASES = {"code_review": "deepseek-r1-32b", "doc_gen": "internal-default"}
"""Task type -> model alias: confidential code stays local; the rest may overflow."""
DEFAULT_ALIAS = "internal-default"


def client() -> OpenAI:
    """An OpenAI client pointed at the route, with the caller's own key."""
    return OpenAI(base_url=os.environ["LLM_BASE_URL"], api_key=os.environ["LLM_API_KEY"],
                  # The router's own timeout covers the longest generation; wait a bit longer.
                  timeout=float(os.environ.get("LLM_TIMEOUT_SECONDS", "420")), max_retries=2)


def smart_route(task_type: str, prompt: str, max_tokens: int = 4096):
    """Stream an answer for `task_type` through the alias chosen for it."""
    stream = client().chat.completions.create(
        model=ALIASES.get(task_type, DEFAULT_ALIAS),
        messages=[{"role": "user", "content": prompt}],
        max_tokens=max_tokens, stream=True)
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


if __name__ == "__main__":
    task, text = sys.argv[1], " ".join(sys.argv[2:]) or "Say hello."
    for piece in smart_route(task, text, max_tokens=int(os.environ.get("LLM_MAX_TOKENS", 1024))):
        print(piece, end="", flush=True)
    print()
