"""The main screen: namespaces on the left, events on the right, filters and status on top."""

from __future__ import annotations

import asyncio
from collections import Counter
from enum import Enum, auto

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Header

from logistis.client import live
from logistis.client.events import (
    BlindSpot,
    Event,
    EventFilter,
    Facets,
    NamespaceSummary,
    awaiting_outcome,
)
from logistis.client.live import LinkState, LinkStatus
from logistis.client.marks import explain_blind_spot, explain_gap
from logistis.client.protocol import CollectorHTTPError, HistoryClient
from logistis.client.window import PageSpan, PageWindow
from logistis.tui.filter_syntax import FilterSyntaxError, parse, unparse
from logistis.tui.format import Clock, system_clock
from logistis.tui.messages import EventReceived, LinkChanged
from logistis.tui.screens.base import WorkingScreen
from logistis.tui.screens.diff import DiffScreen
from logistis.tui.screens.insights import InsightsScreen
from logistis.tui.screens.mark import MarkScreen
from logistis.tui.widgets.empty_state import EmptyState, advice
from logistis.tui.widgets.event_table import EventTable, Gap
from logistis.tui.widgets.filter_bar import FilterBar
from logistis.tui.widgets.key_footer import KeyFooter
from logistis.tui.widgets.namespace_tree import NamespaceTree, ObjectSummary, Place
from logistis.tui.widgets.status_bar import StatusBar

PAGE_SIZE = 100
# Pages held at once (1,000 rows): paging through a long history drops the far end, so memory
# and the cost of each page stay flat. Ten pages fill many screens, and rows put on top (live
# events, a page above) rebuild the table, which is cheap at 1,000 rows.
WINDOW_PAGES = 10
# Live events arriving in a burst are shown together, one repaint per burst.
LIVE_BATCH_SECONDS = 0.1
RELATIVE_TIME_REFRESH_SECONDS = 30.0
# Counts (namespaces, facets, hidden) follow live events at most this often: on a busy
# cluster they would otherwise be recomputed for every burst.
COUNTS_REFRESH_SECONDS = 2.0
# Below these widths the namespace tree narrows, then hides (T shows it): the events' columns
# need the room first.
TREE_NARROW_BELOW = 160
TREE_HIDDEN_BELOW = 120
# A kind's objects are gathered from its most recent events, this many at most.
OBJECTS_SCAN = 1000


MARK_IS_NOT_AN_EVENT = "a ⋯ row is a mark, not an event: enter explains it"
NOT_PUT_BACK = "✋ this hand edit was not put back: it stuck (or the tool has not written since)"
NOT_A_HAND_EDIT = "v goes from a hand edit (✋↩) to the write that put it back (↩) and back"


class Where(Enum):
    """Where a page goes: it starts the window, or joins it below or above."""

    FIRST = auto()
    OLDER = auto()
    NEWER = auto()


class PageLoaded(Message):
    def __init__(self, filter: EventFilter, where: Where, cursor: str | None,
                 items: tuple[Event, ...], next: str | None) -> None:  # fmt: skip
        super().__init__()
        self.filter, self.where, self.cursor = filter, where, cursor
        self.items, self.next = items, next


class FacetsLoaded(Message):
    def __init__(self, filter: EventFilter, facets: Facets, hidden: int | None) -> None:
        super().__init__()
        self.filter, self.facets, self.hidden = filter, facets, hidden


class ObjectsLoaded(Message):
    def __init__(self, place: Place, objects: list[ObjectSummary]) -> None:
        super().__init__()
        self.place, self.objects = place, objects


class CoverageLoaded(Message):
    def __init__(self, spots: tuple[BlindSpot, ...]) -> None:
        super().__init__()
        self.spots = spots


class OutcomesLoaded(Message):
    """Outcomes (`applied`) of shown events, by id, that later events decided."""

    def __init__(self, outcomes: dict[int, bool]) -> None:
        super().__init__()
        self.outcomes = outcomes


class FilterRefused(Message):
    """The collector refused `filter` (a 400 that says why)."""

    def __init__(self, filter: EventFilter, reason: str) -> None:
        super().__init__()
        self.filter, self.reason = filter, reason


class RelatedLoaded(Message):
    """The event a hand edit's mark points to (its put-back, or the hand edit), not loaded in
    the list: it is opened."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class NamespacesLoaded(Message):
    def __init__(self, items: tuple[NamespaceSummary, ...]) -> None:
        super().__init__()
        self.items = items


class BrowseScreen(WorkingScreen):
    BINDINGS = [
        Binding("enter", "open_diff", "Diff", show=False),
        Binding("slash", "edit_filter", "Filter"),
        # Early in the footer: still on screen at 80 columns.
        Binding("i", "insights", "Insights"),
        Binding("escape", "focus_events", "Back to the list", show=False),
        Binding("p", "toggle_people", "People/all"),
        # Early in the footer: on an 80-column terminal the keys after Only user are cut.
        Binding("h", "toggle_hand_edits", "Hand edits"),
        Binding("v", "put_back", "Hand edit ↔ put back", show=False),
        Binding("f", "toggle_follow", "Follow/pause"),
        Binding("g", "show_new", "Newest"),
        Binding("u", "only('user')", "Only user"),
        Binding("K", "only('kind')", "Only kind"),
        Binding("n", "only('namespace')", "Only ns"),
        Binding("o", "only('operation')", "Only op", show=False),
        Binding("H", "history", "Object history"),
        Binding("x", "clear_filters", "Clear"),
        Binding("t", "toggle_time", "Abs time", show=False),
        Binding("T", "toggle_tree", "Namespaces", show=False),
        Binding("r", "reload", "Reload", show=False),
    ]
    HELP_TITLE = "Events (the main screen)"

    # Set again to the same value, it loads again: a filter refused, then typed back, applies.
    filter: reactive[EventFilter] = reactive(
        EventFilter(people=True), init=False, always_update=True
    )
    following: reactive[bool] = reactive(True, init=False)
    # The namespace tree shown or hidden by T; None: as the width allows.
    tree_wanted: reactive[bool | None] = reactive(None, init=False)
    link: reactive[LinkStatus] = reactive(LinkStatus(LinkState.CONNECTING), init=False)

    def __init__(
        self,
        initial: EventFilter,
        *,
        clock: Clock = system_clock,
        page_size: int = PAGE_SIZE,
        window_pages: int = WINDOW_PAGES,
    ) -> None:
        super().__init__()
        self.clock = clock
        self.client: HistoryClient | None = None
        self.page_size = page_size
        self.window = PageWindow(window_pages)
        self._initial = initial
        self._paging = False
        self._pending: list[Event] = []
        self._incoming: list[Event] = []
        self._total: int | None = None
        self._counts_due = False
        self._refusal: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield StatusBar(id="status")
        yield FilterBar(id="filters")
        with Horizontal(id="body"):
            yield NamespaceTree(clock=self.clock, id="namespaces")
            with Vertical(id="events-pane"):
                yield EventTable(clock=self.clock, id="events")
                yield EmptyState(id="empty", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(EventTable).focus()
        self.filter = self._initial
        self.set_interval(RELATIVE_TIME_REFRESH_SECONDS, self._refresh_times)

    def attach(self, client: HistoryClient, home_namespace: str | None = None) -> None:
        """The connection is up: load everything for the current filter and go live. A user
        who may not read every namespace starts in `home_namespace` rather than a refusal."""
        self.client = client
        if home_namespace is not None and self.filter.namespace is None:
            self.filter = self.filter.with_(namespace=home_namespace)  # reloads
        else:
            self.action_reload()

    # -- state flowing down --------------------------------------------------------------------

    def watch_filter(self, filter: EventFilter) -> None:
        self.query_one(FilterBar).filter = filter
        status = self.query_one(StatusBar)
        status.people_only = bool(filter.people)
        self.query_one(NamespaceTree).people_only = bool(filter.people)
        # Nothing counted under another filter is kept: not the total, not what was new.
        status.hidden, status.new, status.shown = None, 0, ""
        self._total, self._refusal = None, None
        self._pending.clear()
        if self.client is not None:
            self.action_reload()

    def on_resize(self) -> None:
        self._place_tree()

    def watch_tree_wanted(self) -> None:
        self._place_tree()

    def _place_tree(self) -> None:
        width = self.size.width
        hidden = width < TREE_HIDDEN_BELOW if self.tree_wanted is None else not self.tree_wanted
        self.set_class(width < TREE_NARROW_BELOW, "-narrow")
        self.set_class(hidden, "-no-tree")
        if hidden and self.focused is self.query_one(NamespaceTree):
            self.query_one(EventTable).focus()

    def watch_following(self, following: bool) -> None:
        self.query_one(StatusBar).following = following
        if following:
            self.action_show_new()

    def watch_link(self, link: LinkStatus) -> None:
        self.query_one(StatusBar).link = link

    # -- workers: I/O only, results come back as messages ----------------------------------------

    @work(exclusive=True, group="events", exit_on_error=False, description="loading events")
    async def load_first_page(self, client: HistoryClient, filter: EventFilter) -> None:
        try:
            page, spots = await asyncio.gather(
                client.events(filter, limit=self.page_size), client.coverage()
            )
        except CollectorHTTPError as error:
            if error.status != 400:
                raise
            self.post_message(FilterRefused(filter, error.detail or error.message))
            return
        # Before the page: its rows are laid out with the blind spots between them.
        self.post_message(CoverageLoaded(spots))
        self.post_message(PageLoaded(filter, Where.FIRST, None, page.items, page.next))
        after = max((e.id for e in page.items), default=0)
        self.follow(client, filter, after)

    @work(exclusive=True, group="page", exit_on_error=False, description="loading more events")
    async def load_page(
        self, client: HistoryClient, filter: EventFilter, where: Where, cursor: str | None
    ) -> None:
        page = await client.events(filter, cursor=cursor, limit=self.page_size)
        self.post_message(PageLoaded(filter, where, cursor, page.items, page.next))

    @work(exclusive=True, group="facets", exit_on_error=False, description="loading facets")
    async def load_facets(self, client: HistoryClient, filter: EventFilter) -> None:
        try:
            facets = await client.facets(filter)
        except CollectorHTTPError as error:
            if error.status != 400:
                raise
            return  # the first page's worker reports the same refusal
        hidden = None
        if filter.people:
            everything = await client.facets(filter.with_(people=None))
            hidden = everything.total - facets.total
        self.post_message(FacetsLoaded(filter, facets, hidden))

    @work(group="outcomes", exit_on_error=False, description="loading outcomes")
    async def load_outcomes(self, client: HistoryClient, events: list[Event]) -> None:
        asked = await asyncio.gather(*(client.event(e.id, e.namespace) for e in events))
        self.post_message(OutcomesLoaded({e.id: e.applied for e in asked if e.applied is not None}))

    @work(exclusive=True, group="related", exit_on_error=False, description="loading the event")
    async def load_related(self, client: HistoryClient, event_id: int, namespace: str) -> None:
        self.post_message(RelatedLoaded(await client.event(event_id, namespace)))

    @work(exclusive=True, group="namespaces", exit_on_error=False, description="loading namespaces")
    async def load_namespaces(self, client: HistoryClient) -> None:
        self.post_message(NamespacesLoaded(await client.namespaces()))

    @work(exclusive=True, group="objects", exit_on_error=False, description="loading objects")
    async def load_objects(self, client: HistoryClient, place: Place) -> None:
        """The objects of one kind in one namespace, most recently changed first."""
        kind = place.kind
        assert kind is not None  # only kind nodes ask for their objects
        filter = EventFilter(namespace=place.namespace, kind=kind.kind, group=kind.group)
        page = await client.events(filter, limit=OBJECTS_SCAN)
        counts = Counter(e.name for e in page.items)
        objects = [ObjectSummary(name, count) for name, count in counts.items()]
        self.post_message(ObjectsLoaded(place, objects))

    @work(exclusive=True, group="live", exit_on_error=False, description="live stream")
    async def follow(self, client: HistoryClient, filter: EventFilter, after: int) -> None:
        def on_status(status: LinkStatus) -> None:
            self.post_message(LinkChanged(status))

        async for event in live.follow(client, filter, after, on_status):
            self.post_message(EventReceived(event, filter))

    # -- results arriving ------------------------------------------------------------------------

    def on_page_loaded(self, message: PageLoaded) -> None:
        if message.filter != self.filter:
            return  # an answer to a filter no longer shown
        table, window = self.query_one(EventTable), self.window
        if not self._fits(message):
            return  # asked for before a reload: the window has moved on
        page = PageSpan(message.cursor, len(message.items), message.next)
        self._paging = False
        if message.where is Where.FIRST:
            self._pending.clear()
            window.reset(page)
            table.show(message.items)
        elif message.where is Where.OLDER:
            table.append(message.items)
            table.drop_top(window.add_older(page))
        elif message.next != window.top_cursor:
            # The page above no longer ends where the window starts (newer events came into
            # the newest page, or retention took some): start again from the newest.
            self.action_show_new()
            return
        else:
            dropped = window.add_newer(page)
            kept = table.events[: len(table.events) - dropped]
            table.replace([*message.items, *kept], shift=len(message.items))
        self._update_shown()

    def _fits(self, message: PageLoaded) -> bool:
        if message.where is Where.FIRST:
            return True
        if message.where is Where.OLDER:
            return bool(self.window.pages) and message.cursor == self.window.older
        return not self.window.at_newest and message.cursor == self.window.newer

    def on_facets_loaded(self, message: FacetsLoaded) -> None:
        if message.filter != self.filter:
            return
        self.query_one(FilterBar).suggester.facets = message.facets
        status = self.query_one(StatusBar)
        status.hidden = message.hidden
        self._total = message.facets.total
        self._update_shown()

    def on_filter_refused(self, message: FilterRefused) -> None:
        if message.filter == self.filter:
            self._refuse(unparse(message.filter), message.reason)

    def _refuse(self, text: str, reason: str) -> None:
        """`text` is not a filter that can be shown: it stays in the bar with `reason`, and
        the list holds no rows of another filter (nor takes live ones) until it changes."""
        for group in ("events", "page", "facets", "live"):
            self.workers.cancel_group(self, group)
        self._refusal, self._total = reason, None
        self._pending.clear()
        self.window.reset(PageSpan(None, 0, None))
        self.query_one(EventTable).show([])
        self.query_one(FilterBar).refuse(text, reason)
        status = self.query_one(StatusBar)
        status.new, status.hidden = 0, None
        self._update_shown()

    def _show_empty(self) -> None:
        table = self.query_one(EventTable)
        empty = not table.events and (self._refusal is not None or bool(self.window.pages))
        hidden = self.query_one(StatusBar).hidden
        text = advice(self.filter, self._refusal, hidden) if empty else None
        self.query_one(EmptyState).show(text)
        table.set_class(text is not None, "-empty")

    def on_objects_loaded(self, message: ObjectsLoaded) -> None:
        self.query_one(NamespaceTree).show_objects(message.place, message.objects)

    def on_coverage_loaded(self, message: CoverageLoaded) -> None:
        self.query_one(EventTable).blind_spots = message.spots

    def on_outcomes_loaded(self, message: OutcomesLoaded) -> None:
        self.query_one(EventTable).settle(message.outcomes)

    def on_related_loaded(self, message: RelatedLoaded) -> None:
        if self.client is not None:
            self.app.push_screen(DiffScreen(message.event, self.client, self.clock))

    def on_namespaces_loaded(self, message: NamespacesLoaded) -> None:
        self.query_one(NamespaceTree).show(message.items)

    def on_link_changed(self, message: LinkChanged) -> None:
        self.link = message.status

    def on_event_received(self, message: EventReceived) -> None:
        if message.filter != self.filter:
            return  # from the stream of a filter no longer shown
        if not self._incoming:
            self.set_timer(LIVE_BATCH_SECONDS, self._take_incoming)
        self._incoming.append(message.event)

    def _take_incoming(self) -> None:
        incoming, self._incoming = self._incoming, []
        table = self.query_one(EventTable)
        undecided = awaiting_outcome(table.events, incoming)
        if undecided and self.client is not None:
            self.load_outcomes(self.client, undecided)
        if self.following and self.window.at_newest and table.at_top and not self._pending:
            self._put_on_top(incoming)
        else:
            # The operator is looking elsewhere: count new events, do not move the view.
            self._pending.extend(incoming)
        self.query_one(StatusBar).new = len(self._pending)
        self._update_shown()
        if not self._counts_due:
            self._counts_due = True
            self.set_timer(COUNTS_REFRESH_SECONDS, self._refresh_counts)

    def _refresh_counts(self) -> None:
        self._counts_due = False
        if self.client is not None:
            self.load_namespaces(self.client)
            self.load_facets(self.client, self.filter)

    def _update_shown(self) -> None:
        loaded, above = len(self.query_one(EventTable).events), self.window.rows_above
        shown = f"{above + 1:,}-{above + loaded:,}" if above else f"{loaded:,}"
        of = f" of {self._total:,}" if self._total is not None else ""
        self.query_one(StatusBar).shown = f"{shown}{of} events"
        self._show_empty()

    def _refresh_times(self) -> None:
        self.query_one(EventTable).refresh_times()

    # -- the operator --------------------------------------------------------------------------

    @on(EventTable.NearEnd)
    def _load_more(self) -> None:
        if self.client is not None and self.window.older and not self._paging:
            self._paging = True
            self.load_page(self.client, self.filter, Where.OLDER, self.window.older)

    @on(EventTable.NearStart)
    def _load_newer(self) -> None:
        if self.client is not None and not self.window.at_newest and not self._paging:
            self._paging = True
            self.load_page(self.client, self.filter, Where.NEWER, self.window.newer)

    @on(DataTable.RowSelected, "#events")
    def _row_selected(self) -> None:
        self.action_open_diff()

    @on(DataTable.RowHighlighted, "#events")
    def _row_highlighted(self) -> None:
        # Scrolling back to the newest row picks up what arrived meanwhile.
        table = self.query_one(EventTable)
        if self.following and self._pending and self.window.at_newest and table.at_top:
            self.action_show_new()

    @on(NamespaceTree.Chosen)
    def _place_chosen(self, message: NamespaceTree.Chosen) -> None:
        place = message.place
        kind = place.kind
        self.filter = self.filter.with_(
            namespace=place.namespace,
            kind=kind.kind if kind else None,
            group=kind.group if kind else None,
            name=place.name,
        )

    @on(NamespaceTree.ObjectsWanted)
    def _objects_wanted(self, message: NamespaceTree.ObjectsWanted) -> None:
        if self.client is not None:
            self.load_objects(self.client, message.place)

    @on(FilterBar.Submitted)
    def _filter_typed(self, message: FilterBar.Submitted) -> None:
        try:
            self.filter = parse(message.text, people=self.filter.people)
        except FilterSyntaxError as error:
            self._refuse(message.text, str(error))
            return
        self.query_one(EventTable).focus()

    def action_reload(self) -> None:
        if self.client is None:
            return
        self._paging = False
        self.load_first_page(self.client, self.filter)
        self.load_facets(self.client, self.filter)
        self.load_namespaces(self.client)

    def action_open_diff(self) -> None:
        table = self.query_one(EventTable)
        mark, event = table.selected_mark, table.selected
        if isinstance(mark, Gap):
            self.app.push_screen(MarkScreen(explain_gap(mark.event, table.previous_of(mark.event))))
        elif mark is not None:
            self.app.push_screen(MarkScreen(explain_blind_spot(mark)))
        elif event is not None and self.client is not None:
            self.app.push_screen(DiffScreen(event, self.client, self.clock))

    def action_insights(self) -> None:
        if self.client is not None:
            self.app.push_screen(InsightsScreen(self.filter, self.client), self._insight_chosen)

    def _insight_chosen(self, narrowed: EventFilter | None) -> None:
        if narrowed is not None:
            self.filter = narrowed

    def action_edit_filter(self) -> None:
        self.query_one(FilterBar).edit()

    def action_focus_events(self) -> None:
        self.query_one(EventTable).focus()

    def action_toggle_people(self) -> None:
        self.filter = self.filter.with_(people=None if self.filter.people else True)

    def action_toggle_follow(self) -> None:
        self.following = not self.following

    def _put_on_top(self, events: list[Event]) -> None:
        table = self.query_one(EventTable)
        # Rows are rebuilt to put live events on top; past a full window, reloading the first
        # page is cheaper, and the operator at the top does not miss the older pages (paging
        # brings them). Below dropped pages, the newest are a reload away too.
        limit = self.window.max_pages * self.page_size
        if not self.window.at_newest or len(table.events) + len(events) > limit:
            self.action_reload()
        else:
            self.window.grow_top(table.prepend(events))

    def action_show_new(self) -> None:
        table = self.query_one(EventTable)
        pending, self._pending = self._pending, []
        self._put_on_top(pending)
        table.move_cursor(row=0, animate=False)
        table.scroll_home(animate=False)
        self.query_one(StatusBar).new = 0
        self._update_shown()

    def _selected_event(self) -> Event | None:
        """The event under the cursor; on a mark's row, None, and the operator is told why."""
        table = self.query_one(EventTable)
        if table.selected is None and table.selected_mark is not None:
            self.notify(MARK_IS_NOT_AN_EVENT, severity="warning", timeout=3)
        return table.selected

    def action_history(self) -> None:
        """Everything recorded of the selected object, machines' writes too, newest first."""
        event = self._selected_event()
        if event is not None:
            self.filter = EventFilter(
                namespace=event.namespace,
                kind=event.kind,
                group=event.resource.group,
                name=event.name,
            )

    def action_only(self, field: str) -> None:
        event = self._selected_event()
        if event is None:
            return
        values = {
            "user": {"user": event.user.username},
            "kind": {"kind": event.kind, "group": event.resource.group},
            "namespace": {"namespace": event.namespace},
            "operation": {"operation": event.operation},
        }
        self.filter = self.filter.with_(**values[field])

    def action_toggle_hand_edits(self) -> None:
        """Only hand edits of managed objects, and back: the question operators bring."""
        self.filter = self.filter.with_(hand_edit=None if self.filter.hand_edit else True)

    def action_put_back(self) -> None:
        """From a hand edit to the tool's write that put it back, and from that write back to
        the hand edit: the cursor goes there when it is loaded, else it is opened."""
        event = self._selected_event()
        if event is None:
            return
        target = event.reverted_by if event.hand_edit else next(iter(event.reverts), None)
        if target is None:
            self.notify(NOT_PUT_BACK if event.hand_edit else NOT_A_HAND_EDIT, timeout=3)
        elif not self.query_one(EventTable).select_event(target) and self.client is not None:
            self.load_related(self.client, target, event.namespace)

    def action_clear_filters(self) -> None:
        self.filter = self.filter.cleared()

    def action_toggle_tree(self) -> None:
        self.tree_wanted = self.has_class("-no-tree")

    def action_toggle_time(self) -> None:
        table = self.query_one(EventTable)
        table.absolute_time = not table.absolute_time
