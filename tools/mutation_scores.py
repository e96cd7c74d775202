"""Mutation scores with message-only mutants excluded, per file, from mutmut 3's results.

    python -m tools.mutation_scores . planning/memory.py [more files]   (mutmut's venv)

A mutant whose function differs from the original only inside string literals (an error
message, a plan reason) is left out; every other mutant counts, killed or survived, and each
survivor is printed with its diff.
"""
import ast, io, json, sys, tokenize, pathlib, difflib
from mutmut.__main__ import status_by_exit_code

def tokens(src):
    out = []
    try:
        for t in tokenize.generate_tokens(io.StringIO(src).readline):
            if t.type in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
                continue
            if t.type == tokenize.STRING or t.type in (getattr(tokenize, "FSTRING_MIDDLE", -1),):
                out.append(("STR", None))
            else:
                out.append((t.type, t.string))
    except Exception:
        return None
    return out

root = pathlib.Path(sys.argv[1])
for f in sys.argv[2:]:
    meta = root / "mutants" / (f + ".meta")
    if not meta.exists():
        continue
    codes = json.load(open(meta))["exit_code_by_key"]
    tree = ast.parse((root / "mutants" / f).read_text())
    src = (root / "mutants" / f).read_text()
    lines = src.splitlines(keepends=True)

    def segment(node):
        """ast.get_source_segment without re-splitting the whole file for every function
        (mutants files hold thousands of them); offsets are UTF-8 bytes."""
        first, last = node.lineno - 1, node.end_lineno - 1
        if first == last:
            return lines[first].encode()[node.col_offset:node.end_col_offset].decode()
        return "".join([lines[first].encode()[node.col_offset:].decode(), *lines[first + 1:last],
                        lines[last].encode()[:node.end_col_offset].decode()])

    funcs = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            funcs[node.name] = segment(node)
    counts = {"killed": 0, "survived": 0}
    message, code = [], []
    for key, exit_code in codes.items():
        status = status_by_exit_code[exit_code]
        fn = key.split(".")[-1]
        name = fn.split("ǁ")[-1]
        base = name.rsplit("__mutmut_", 1)[0]
        orig = funcs.get(base + "__mutmut_orig")
        mut = funcs.get(name)
        is_message = False
        if orig and mut:
            a = tokens(orig.replace(base + "__mutmut_orig", "F", 1))
            b = tokens(mut.replace(name, "F", 1))
            is_message = a is not None and a == b
        if is_message:
            if status == "survived":
                message.append(key)
            continue
        if status in counts:
            counts[status] += 1
        if status == "survived":
            d = [l for l in difflib.unified_diff(orig.splitlines(), mut.splitlines(), lineterm="", n=0)
                 if l[:1] in "+-" and not l.startswith(("+++", "---")) and not l[1:].lstrip().startswith("def ")] if orig and mut else []
            code.append((key, " | ".join(x.strip() for x in d)[:160]))
    k, s = counts["killed"], counts["survived"]
    print(f"{f}: code mutants {k + s}, killed {k}, survived {s}, score {k/(k+s)*100 if k+s else 0:.1f}%; message-only mutants excluded: {len([1 for _ in message])} surviving (+ killed ones)")
    for key, d in code:
        print("   SURVIVED", key.split(".")[-1], "::", d)
