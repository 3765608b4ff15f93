"""Just enough of Rust's syntax to read facts out of the code: the
functions of a file and their bodies, without comments and test modules."""

import re
from pathlib import Path


def without_literals(text):
    """`text` without comments, and with every string and char literal
    emptied, so that braces and `//` inside them count for nothing."""
    out = []
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if text.startswith("//", index):
            index = text.find("\n", index)
            index = length if index < 0 else index
        elif text.startswith("/*", index):
            end = text.find("*/", index + 2)
            index = length if end < 0 else end + 2
        elif re.match(r'(b?r)(#*)"', text[index : index + 20]) and not re.match(r"\w", text[index - 1 : index] or " "):
            raw = re.match(r'(b?r)(#*)"', text[index:])
            close = '"' + raw.group(2)
            end = text.find(close, index + raw.end())
            out.append('""')
            index = end + len(close)
        elif char == '"':
            index += 1
            while index < length and text[index] != '"':
                index += 2 if text[index] == "\\" else 1
            out.append('""')
            index += 1
        elif char == "'":
            literal = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", text[index:])
            if literal:
                out.append("' '")
                index += literal.end()
            else:  # a lifetime
                out.append(char)
                index += 1
        else:
            out.append(char)
            index += 1
    return "".join(out)


def block_end(text, start):
    """The index just past the `}` closing the `{` at `start` (in code
    without literals)."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index + 1
    raise ValueError("unbalanced braces")


def production_source(path):
    """A file's code without comments, literals and `#[cfg(test)]` modules."""
    text = without_literals(Path(path).read_text())
    while True:
        found = re.search(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{", text)
        if not found:
            return text
        text = text[: found.start()] + text[block_end(text, found.end() - 1) :]


def crate_source(directory):
    """Every production source file under a crate's src/."""
    return {path: production_source(path) for path in sorted(Path(directory, "src").rglob("*.rs"))}


def functions(text):
    """{name: [body, ...]} of every `fn` with a body in `text`."""
    found = {}
    for match in re.finditer(r"\bfn\s+(\w+)\s*(<[^{;]*?>)?\s*\(", text):
        brace = text.find("{", match.end())
        semicolon = text.find(";", match.end())
        if brace < 0 or (0 <= semicolon < brace):
            continue  # a declaration (trait method without a default body)
        found.setdefault(match.group(1), []).append(text[brace : block_end(text, brace)])
    return found


def block_after(text, pattern):
    """The `{…}` block that follows the first match of `pattern`."""
    match = re.search(pattern, text)
    assert match, f"not found: {pattern}"
    brace = text.find("{", match.end())
    return text[brace : block_end(text, brace)]


def trait_methods(text, trait):
    body = block_after(text, rf"pub trait {trait}\b[^{{]*")
    return set(re.findall(r"\bfn\s+(\w+)", body))
