"""The import graph of ``proxy`` and ``mappings`` has no circles (issue 12): for every
direct import a -> b, no chain leads from b back to a (grimp, import-linter's engine)."""

from __future__ import annotations

import grimp


def _cycles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back:
                found.append((importer, *back))
    return found


def test_proxy_and_mappings_import_each_other_in_no_circle() -> None:
    graph = grimp.build_graph("proxy", "mappings")
    assert len(graph.modules) > 40  # both packages were read, lazy imports included
    assert _cycles(graph) == []


def test_the_check_finds_a_circle_when_there_is_one() -> None:
    graph = grimp.build_graph("proxy", "mappings")
    graph.add_import(importer="mappings.plan", imported="proxy.state")
    assert any(cycle[0] == "mappings.plan" for cycle in _cycles(graph))
