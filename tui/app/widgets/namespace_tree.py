"""Namespaces (and cluster-scoped resources) with their counts, last change, and kinds."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from tui.app.format import Clock, relative_time, short_user, system_clock
from tui.core.events import KindCount, NamespaceSummary

CLUSTER_SCOPED_LABEL = "(cluster-scoped)"


@dataclass(frozen=True, slots=True)
class Place:
    """What a node stands for: everything, a namespace, or one kind in a namespace."""

    namespace: str | None = None
    kind: KindCount | None = None


class NamespaceTree(Tree[Place]):
    class Chosen(Message):
        def __init__(self, place: Place) -> None:
            super().__init__()
            self.place = place

    def __init__(self, *, clock: Clock = system_clock, id: str | None = None) -> None:
        super().__init__("all namespaces", data=Place(), id=id)
        self.clock = clock
        self.show_root = True
        self.guide_depth = 2

    def show(self, summaries: Iterable[NamespaceSummary]) -> None:
        expanded = {n.data.namespace for n in self.root.children if n.is_expanded and n.data}
        self.root.remove_children()
        now = self.clock()
        for summary in sorted(summaries, key=lambda s: (s.namespace == "", s.namespace)):
            node = self.root.add(self._label(summary, now), data=Place(summary.namespace))
            for kind in sorted(summary.kinds, key=lambda k: -k.count):
                label = Text.assemble(kind.kind, (f"  {kind.count}", "dim"))
                node.add_leaf(label, data=Place(summary.namespace, kind))
            if summary.namespace in expanded:
                node.expand()
        self.root.expand()

    def on_tree_node_selected(self, event: Tree.NodeSelected[Place]) -> None:
        event.stop()
        node: TreeNode[Place] = event.node
        if node.data is not None:
            self.post_message(self.Chosen(node.data))

    @staticmethod
    def _label(summary: NamespaceSummary, now: datetime) -> Text:
        name = summary.namespace or CLUSTER_SCOPED_LABEL
        when = relative_time(summary.last_time, now) if summary.last_time else ""
        detail = f"  {summary.count}  {when} {short_user(summary.last_user)}".rstrip()
        return Text.assemble(name, (detail, "dim"))
