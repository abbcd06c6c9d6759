"""The package's import graph: arrows point one way, from the commands down to the settings.

Every `kws_tf` import counts, also those inside functions (lazy imports hide a cycle, they do
not remove it), except in a module's ``if __name__ == "__main__":`` block, which runs only
when the module is the program.
"""
import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "kws_tf"
# Lower layers first; a unit may import its own layer and those below it, never above.
LAYERS = (
    ("kws_tf", "kws_tf.errors", "kws_tf.config", "kws_tf.cli", "kws_tf.progress"),
    ("kws_tf.data", "kws_tf.features"),
    ("kws_tf.models",),
    ("kws_tf.train", "kws_tf.quant", "kws_tf.nas"),
    ("kws_tf.export", "kws_tf.label", "kws_tf.hello_edge_import"),
    ("kws_tf.commands", "kws_tf.evaluate", "kws_tf.profile", "kws_tf.robustness"),
)
LEVEL = {unit: level for level, units in enumerate(LAYERS) for unit in units}


def _unit(module):
    """The layering unit of a module: its top-level subpackage or module."""
    return ".".join(module.split(".")[:2])


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_main_block(node):
    test = getattr(node, "test", None)
    return (isinstance(node, ast.If) and isinstance(test, ast.Compare)
            and isinstance(test.left, ast.Name) and test.left.id == "__name__")


def _imports(tree):
    """The kws_tf modules a module imports, skipping `if __name__ == "__main__":` blocks."""
    pending = [node for node in tree.body if not _is_main_block(node)]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kws_tf"):
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("kws_tf"))
        pending.extend(child for child in ast.iter_child_nodes(node)
                       if not _is_main_block(child))


def _graph():
    edges = {}
    for path in PACKAGE.rglob("*.py"):
        source = _unit(_module_name(path))
        for target in _imports(ast.parse(path.read_text())):
            target = _unit(target)
            if target in LEVEL and target != source:
                edges.setdefault(source, set()).add(target)
    return edges


def test_every_unit_has_a_layer():
    units = {_unit(_module_name(path)) for path in PACKAGE.rglob("*.py")}
    assert units <= set(LEVEL), sorted(units - set(LEVEL))


def test_no_unit_imports_a_higher_layer():
    upward = sorted(f"{source} -> {target}" for source, targets in _graph().items()
                    for target in targets if LEVEL[target] > LEVEL[source])
    assert not upward


def test_the_import_graph_has_no_cycle():
    edges, done, path = _graph(), set(), []

    def visit(unit):
        if unit in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(unit):] + [unit]))
        if unit in done:
            return
        path.append(unit)
        for target in sorted(edges.get(unit, ())):
            visit(target)
        path.pop()
        done.add(unit)

    for unit in sorted(edges):
        visit(unit)
