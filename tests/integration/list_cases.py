"""Prints `MODULE.CLASS` for every test case class of the given tests/integration/*_test.py
files, one per line, for CMake to register each as its own ctest entry.

A class counts when it has a test_ method of its own or from a base class in the same file. The
files are parsed, not imported: listing them runs none of their code."""

import ast
import sys
from pathlib import Path


def cases(path: Path):
    tree = ast.parse(path.read_text(), str(path))
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}

    def has_tests(name: str, seen: frozenset = frozenset()) -> bool:
        node = classes.get(name)
        if node is None or name in seen:
            return False
        if any(isinstance(item, ast.FunctionDef) and item.name.startswith("test")
               for item in node.body):
            return True
        return any(isinstance(base, ast.Name) and has_tests(base.id, seen | {name})
                   for base in node.bases)

    return [f"{path.stem}.{name}" for name in classes if has_tests(name)]


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print("\n".join(cases(Path(arg))))
