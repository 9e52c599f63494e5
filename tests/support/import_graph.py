"""The project's import graph, read from the source with `ast` (nothing is imported).

Used by tests/test_layering.py (imports point down only, no cycles) and by the tests that
check what a module does not depend on (e.g. create_pipeline knows no orchestrator).
"""

from __future__ import annotations

from pathlib import Path

from pipeline.fingerprint import imported_names

PROJECT_PACKAGES = ("components", "pipeline")
# The layers, top first: a module may import modules of the layers below its own, and of its
# own group; groups of one layer (local, kubeflow) do not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("pipeline.notebook",),  # the CLI's commands as calls, for a Python session: it uses the CLI's own parts
    ("pipeline.cli",),
    ("pipeline.local", "pipeline.kubeflow"),
    ("pipeline.inspect",),
    ("pipeline",),  # the core: create_pipeline, the config, node ids, code hashes, the output dir
    ("components",),
)


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


def layer_of(module: str, layers: tuple[tuple[str, ...], ...] = LAYERS) -> tuple[int, str]:
    """(the layer's index, top first; the group) of a module: the group whose name is its longest prefix."""
    groups = [
        (index, group)
        for index, layer in enumerate(layers)
        for group in layer
        if module == group or module.startswith(group + ".")
    ]
    return max(groups, key=lambda found: len(found[1]))


def layer_violations(graph: dict[str, set[str]], layers: tuple[tuple[str, ...], ...] = LAYERS) -> list[str]:
    """`a imports b (layer -> layer)` for every import that does not point down the layers."""
    found = []
    for module, targets in graph.items():
        layer, group = layer_of(module, layers)
        for target in targets:
            target_layer, target_group = layer_of(target, layers)
            if target_group != group and target_layer <= layer:
                found.append(f"{module} imports {target} ({group} -> {target_group})")
    return sorted(found)


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
