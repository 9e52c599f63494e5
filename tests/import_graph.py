"""The project's import graph, read from the source with `ast` (nothing is imported).

Used by tests/test_layering.py (imports point down only, no cycles) and by the tests that
check what a module does not depend on (e.g. create_pipeline knows no orchestrator).
"""

from __future__ import annotations

import ast
from pathlib import Path

PROJECT_PACKAGES = ("components", "pipeline")


def module_name(path: Path, root: Path) -> str:
    """components/a/b.py -> components.a.b; components/a/__init__.py -> components.a."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules(root: Path, packages: tuple[str, ...] = PROJECT_PACKAGES) -> dict[str, Path]:
    """Every module of the project's packages under `root`, by its dotted name."""
    return {
        module_name(path, root): path
        for package in packages
        for path in sorted((root / package).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def imported_names(path: Path, module: str) -> set[str]:
    """Every module name `path` imports, absolute, anywhere in the file (functions included).

    `from a import b` yields both `a` and `a.b`: b may be a module or a name in a.
    """
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in names if name}


def import_graph(root: Path, packages: tuple[str, ...] = PROJECT_PACKAGES) -> dict[str, set[str]]:
    """Project module -> the project modules it imports (a name in a module counts as the module)."""
    modules = project_modules(root, packages)
    graph = {}
    for module, path in modules.items():
        targets = set()
        for name in imported_names(path, module):
            # The longest prefix that is a module: `a.b.NAME` is module a.b.
            parts = name.split(".")
            for length in range(len(parts), 0, -1):
                candidate = ".".join(parts[:length])
                if candidate in modules:
                    if candidate != module:
                        targets.add(candidate)
                    break
        graph[module] = targets
    return graph


def external_imports(root: Path, module: str, packages: tuple[str, ...] = PROJECT_PACKAGES) -> dict[str, set[str]]:
    """For `module` and every project module it imports (transitively): the top-level
    non-project packages it imports, e.g. {"pipeline.config": {"yaml", "dataclasses", ...}}."""
    modules = project_modules(root, packages)
    graph = import_graph(root, packages)
    result = {}
    for name in reachable(graph, module):
        tops = {imported.split(".")[0] for imported in imported_names(modules[name], name)}
        result[name] = {top for top in tops if top not in packages}
    return result


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """`start` and every module it imports, transitively."""
    seen, pending = set(), [start]
    while pending:
        module = pending.pop()
        if module not in seen:
            seen.add(module)
            pending.extend(graph.get(module, ()))
    return seen


def layer_violations(graph: dict[str, set[str]], lower: str = "components", upper: str = "pipeline") -> list[str]:
    """`a imports b` for every module of the `lower` package that imports the `upper` one."""
    return sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if module.split(".")[0] == lower
        for target in targets
        if target.split(".")[0] == upper
    )


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per group of modules that import each other (a strongly connected component),
    as its path with the first module repeated at the end: [a, b, a]. [] when there is none."""
    return [_cycle_in(group, graph) for group in _strongly_connected(graph) if len(group) > 1]


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative; groups in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in graph:
                    continue
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                elif target in on_stack:
                    low[module] = min(low[module], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == index[module]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == module:
                        break
                groups.append(group)
    return groups


def _cycle_in(group: set[str], graph: dict[str, set[str]]) -> list[str]:
    """A path from the group's first module back to itself, within the group (breadth first)."""
    start = min(group)
    previous: dict[str, str] = {}
    queue = [start]
    while queue:
        module = queue.pop(0)
        for target in sorted(graph[module] & group):
            if target == start:
                path = [module]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if target not in previous:
                previous[target] = module
                queue.append(target)
    raise AssertionError(f"no cycle in {sorted(group)}")
