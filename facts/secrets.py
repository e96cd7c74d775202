"""What "looks like a secret" means, for the program's config checks and the policy pack alike.

OpenAI-style API keys start with `sk-` (`sk-proj-…` included) and Hugging Face tokens with
`hf_`; both are followed by a long run of letters, digits, `_` or `-` (Hugging Face: 34 letters;
OpenAI: 48 or more). A prefix plus at least SECRET_BODY_MIN such characters is taken for a key;
a shorter `sk-…` (e.g. a model name like `sk-test`) is not.
"""

from __future__ import annotations

import re

SECRET_PREFIXES = ("sk-", "hf_")
"""How API keys and Hugging Face tokens start."""
SECRET_BODY_MIN = 16
"""Characters after the prefix before a token is taken for a key."""

_BODY = rf"[A-Za-z0-9_-]{{{SECRET_BODY_MIN},}}"
_PREFIX = "|".join(re.escape(prefix) for prefix in SECRET_PREFIXES)
_WHOLE = re.compile(rf"^(?:{_PREFIX}){_BODY}")
_ANYWHERE = re.compile(rf"(?<![A-Za-z0-9_-])(?:{_PREFIX}){_BODY}")


def looks_like_secret(value: str) -> bool:
    """True when `value` starts like an API key or hub token (a flag value, an env value)."""
    return bool(_WHOLE.match(value))


def contains_secret(text: str) -> bool:
    """True when a key or token appears anywhere in `text` (a ConfigMap file, a script)."""
    return bool(_ANYWHERE.search(text))
