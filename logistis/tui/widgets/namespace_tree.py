"""Namespaces (and cluster-scoped resources) with their counts and last change; below each,
its kinds, and below a kind, the objects of that kind (fetched when the kind is opened)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from logistis.client.events import KindCount, NamespaceSummary, is_machine
from logistis.tui.format import Clock, relative_time, short_identity, system_clock

CLUSTER_SCOPED_LABEL = "(cluster-scoped)"


@dataclass(frozen=True, slots=True)
class Place:
    """What a node stands for: everything, a namespace, a kind in it, or one object."""

    namespace: str | None = None
    kind: KindCount | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ObjectSummary:
    name: str
    count: int


class NamespaceTree(Tree[Place]):
    class Chosen(Message):
        def __init__(self, place: Place) -> None:
            super().__init__()
            self.place = place

    class ObjectsWanted(Message):
        """A kind was opened for the first time: its objects are needed."""

        def __init__(self, place: Place) -> None:
            super().__init__()
            self.place = place

    # People only: a namespace's last actor is named only when a person (the collector's
    # summary knows only the last actor of all).
    people_only: reactive[bool] = reactive(True, init=False)

    def __init__(self, *, clock: Clock = system_clock, id: str | None = None) -> None:
        super().__init__("all namespaces", data=Place(), id=id)
        self.clock = clock
        self.guide_depth = 2
        self._summaries: tuple[NamespaceSummary, ...] = ()

    def watch_people_only(self) -> None:
        self.show(self._summaries)

    def show(self, summaries: Iterable[NamespaceSummary]) -> None:
        """Show new counts; nodes are updated in place so the cursor and open nodes stay."""
        self._summaries = tuple(summaries)
        summaries = self._summaries
        now = self.clock()
        ordered = sorted(summaries, key=lambda s: (s.namespace == "", s.namespace))
        current = {n.data.namespace: n for n in self.root.children if n.data}
        if [s.namespace for s in ordered] != list(current):
            self.root.remove_children()
            current = {s.namespace: self.root.add("", data=Place(s.namespace)) for s in ordered}
        for summary in ordered:
            node = current[summary.namespace]
            node.set_label(self._label(summary, now))
            self._show_kinds(node, summary)
        self.root.expand()

    def show_objects(self, place: Place, objects: Sequence[ObjectSummary]) -> None:
        node = self._kind_node(place)
        if node is None:
            return
        node.remove_children()
        for each in objects:
            label = Text.assemble(each.name, (f"  {each.count}", "dim"))
            node.add_leaf(label, data=Place(place.namespace, place.kind, each.name))

    def _show_kinds(self, node: TreeNode[Place], summary: NamespaceSummary) -> None:
        kinds = sorted(summary.kinds, key=lambda k: -k.count)
        children = {_kind_key(c.data.kind): c for c in node.children if c.data and c.data.kind}
        if {_kind_key(k) for k in kinds} != set(children):
            node.remove_children()
            children = {
                _kind_key(k): node.add("", data=Place(summary.namespace, k), allow_expand=True)
                for k in kinds
            }
        for kind in kinds:
            child = children[_kind_key(kind)]
            child.data = Place(summary.namespace, kind)
            child.set_label(Text.assemble(kind.kind, (f"  {kind.count}", "dim")))

    def _kind_node(self, place: Place) -> TreeNode[Place] | None:
        for namespace in self.root.children:
            for child in namespace.children:
                data = child.data
                if data and data.namespace == place.namespace and data.kind == place.kind:
                    return child
        return None

    def on_tree_node_selected(self, event: Tree.NodeSelected[Place]) -> None:
        event.stop()
        if event.node.data is not None:
            self.post_message(self.Chosen(event.node.data))

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[Place]) -> None:
        event.stop()
        data = event.node.data
        if data is not None and data.kind is not None and not event.node.children:
            self.post_message(self.ObjectsWanted(data))

    def _label(self, summary: NamespaceSummary, now: datetime) -> Text:
        name = summary.namespace or CLUSTER_SCOPED_LABEL
        when = relative_time(summary.last_time, now) if summary.last_time else ""
        user = summary.last_user
        who = "" if self.people_only and is_machine(user) else short_identity(user)
        detail = f"  {summary.count}  {when} {who}".rstrip()
        return Text.assemble(name, (detail, "dim"))


def _kind_key(kind: KindCount | None) -> tuple[str, str]:
    return (kind.group, kind.resource) if kind else ("", "")
