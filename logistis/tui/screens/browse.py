"""The main screen: namespaces on the left, events on the right, filters and status on top.

It composes the widgets and routes between them: what loads bring (logistis.tui.loads) goes
down to the widgets, what the widgets and the operator ask for goes to the loads or the filter
(logistis.tui.narrowing).
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import DataTable, Header

from logistis.client.events import Event, EventFilter, awaiting_outcome
from logistis.client.live import LinkState, LinkStatus
from logistis.client.marks import explain_blind_spot, explain_gap
from logistis.client.protocol import HistoryClient
from logistis.tui import messages, narrowing
from logistis.tui.filter_syntax import FilterSyntaxError, parse, unparse
from logistis.tui.format import Clock, system_clock
from logistis.tui.loads import PAGE_SIZE, Loads, Request
from logistis.tui.screens.base import WorkingScreen
from logistis.tui.screens.diff import DiffScreen
from logistis.tui.screens.insights import InsightsScreen
from logistis.tui.screens.mark import MarkScreen
from logistis.tui.widgets.empty_state import advice
from logistis.tui.widgets.event_table import Gap
from logistis.tui.widgets.events_pane import EventsPane
from logistis.tui.widgets.filter_bar import FilterBar
from logistis.tui.widgets.key_footer import KeyFooter
from logistis.tui.widgets.namespace_tree import NamespaceTree
from logistis.tui.widgets.status_bar import StatusBar

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


NOT_PUT_BACK = "✋ this hand edit was not put back: it stuck (or the tool has not written since)"
NOT_A_HAND_EDIT = "v goes from a hand edit (✋↩) to the write that put it back (↩) and back"


class BrowseScreen(WorkingScreen[None]):
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
        # Not loaded yet: the first load waits for the connection (attach).
        self.set_reactive(BrowseScreen.filter, initial)
        self.clock = clock
        self.client: HistoryClient | None = None
        self.page_size, self.window_pages = page_size, window_pages
        self._loads: Loads | None = None
        # What the list shows answers this; None before the first load.
        self._request: Request | None = None
        self._incoming: list[Event] = []
        self._total: int | None = None
        self._hidden: int | None = None
        self._counts_due = False
        self._refusal: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield StatusBar(id="status").data_bind(BrowseScreen.link, BrowseScreen.following)
        yield FilterBar(id="filters")
        with Horizontal(id="body"):
            yield NamespaceTree(clock=self.clock, id="namespaces")
            yield EventsPane(
                page_size=self.page_size,
                window_pages=self.window_pages,
                clock=self.clock,
                id="events-pane",
            ).data_bind(BrowseScreen.following)
        yield KeyFooter()

    @property
    def pane(self) -> EventsPane:
        return self.query_one(EventsPane)

    def on_mount(self) -> None:
        self.pane.table.focus()
        self._show_filter(self.filter)
        self.set_interval(RELATIVE_TIME_REFRESH_SECONDS, self.pane.table.refresh_times)

    def attach(self, client: HistoryClient, home_namespace: str | None = None) -> None:
        """The connection is up: load everything for the current filter and go live. A user
        who may not read every namespace starts in `home_namespace` rather than a refusal."""
        self.client, self._loads = client, Loads(self, client)
        if home_namespace is not None and self.filter.namespace is None:
            self.filter = self.filter.with_(namespace=home_namespace)  # reloads
        else:
            self.action_reload()

    # -- state flowing down --------------------------------------------------------------------

    def _show_filter(self, filter: EventFilter) -> None:
        self.query_one(FilterBar).filter = filter
        self.query_one(StatusBar).people_only = bool(filter.people)
        self.query_one(NamespaceTree).people_only = bool(filter.people)

    def watch_filter(self, filter: EventFilter) -> None:
        self._show_filter(filter)
        # Nothing counted under another filter is kept: not the total, not what was new.
        status = self.query_one(StatusBar)
        status.hidden, status.new, status.shown = None, 0, ""
        self._total, self._hidden, self._refusal = None, None, None
        self.pane.forget_waiting()
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
            self.pane.table.focus()

    def watch_following(self, following: bool) -> None:
        if following:
            self.action_show_new()

    # -- what loads bring ----------------------------------------------------------------------

    def on_page_loaded(self, message: messages.PageLoaded) -> None:
        if message.request is self._request:  # else: asked for by an earlier load
            self.pane.take_page(message.where, message.cursor, message.items, message.next)
            self._update_shown()

    def on_facets_loaded(self, message: messages.FacetsLoaded) -> None:
        if message.request is not self._request:
            return
        self.query_one(FilterBar).suggester.facets = message.facets
        self._total, self._hidden = message.facets.total, message.hidden
        self.query_one(StatusBar).hidden = message.hidden
        self._update_shown()

    def on_filter_refused(self, message: messages.FilterRefused) -> None:
        if message.request is self._request:
            self._refuse(unparse(message.request.filter), message.reason)

    def _refuse(self, text: str, reason: str) -> None:
        """`text` is not a filter that can be shown: it stays in the bar with `reason`, and
        the list holds no rows of another filter (nor takes live ones) until it changes."""
        if self._loads is not None:
            self._loads.cancel_list()
        self._request = None
        self._refusal, self._total, self._hidden = reason, None, None
        self.pane.clear()
        self.query_one(FilterBar).refuse(text, reason)
        status = self.query_one(StatusBar)
        status.new, status.hidden = 0, None
        self._update_shown()

    def on_objects_loaded(self, message: messages.ObjectsLoaded) -> None:
        self.query_one(NamespaceTree).show_objects(message.place, message.objects)

    def on_coverage_loaded(self, message: messages.CoverageLoaded) -> None:
        self.pane.table.blind_spots = message.spots

    def on_outcomes_loaded(self, message: messages.OutcomesLoaded) -> None:
        self.pane.table.settle(message.outcomes)

    def on_related_loaded(self, message: messages.RelatedLoaded) -> None:
        if self.client is not None:
            self.app.push_screen(DiffScreen(message.event, self.client, self.clock))

    def on_namespaces_loaded(self, message: messages.NamespacesLoaded) -> None:
        self.query_one(NamespaceTree).show(message.items)

    def on_link_changed(self, message: messages.LinkChanged) -> None:
        self.link = message.status

    def on_event_received(self, message: messages.EventReceived) -> None:
        if message.request is not self._request:
            return  # from the stream of a load no longer shown
        if not self._incoming:
            self.set_timer(LIVE_BATCH_SECONDS, self._take_incoming)
        self._incoming.append(message.event)

    def _take_incoming(self) -> None:
        incoming, self._incoming = self._incoming, []
        pane = self.pane
        undecided = awaiting_outcome(pane.table.events, incoming)
        if undecided and self._loads is not None:
            self._loads.outcomes(undecided)
        if not pane.take_live(incoming):
            self.action_reload()
        self.query_one(StatusBar).new = len(pane.pending)
        self._update_shown()
        if not self._counts_due:
            self._counts_due = True
            self.set_timer(COUNTS_REFRESH_SECONDS, self._refresh_counts)

    def _refresh_counts(self) -> None:
        self._counts_due = False
        if self._loads is not None and self._request is not None:
            self._loads.namespaces()
            self._loads.facets(self._request)

    def _update_shown(self) -> None:
        pane = self.pane
        self.query_one(StatusBar).shown = pane.shown(self._total)
        pane.advise(advice(self.filter, self._refusal, self._hidden))

    # -- what the widgets ask for --------------------------------------------------------------

    @on(EventsPane.PageWanted)
    def _page_wanted(self, message: EventsPane.PageWanted) -> None:
        if self._loads is not None and self._request is not None:
            self._loads.page(self._request, message.where, message.cursor)

    @on(EventsPane.NewestWanted)
    def _newest_wanted(self) -> None:
        self.action_show_new()

    @on(DataTable.RowSelected, "#events")
    def _row_selected(self) -> None:
        self.action_open_diff()

    @on(NamespaceTree.Chosen)
    def _place_chosen(self, message: NamespaceTree.Chosen) -> None:
        self.filter = narrowing.at_place(self.filter, message.place)

    @on(NamespaceTree.ObjectsWanted)
    def _objects_wanted(self, message: NamespaceTree.ObjectsWanted) -> None:
        if self._loads is not None:
            self._loads.objects(message.place)

    @on(FilterBar.Submitted)
    def _filter_typed(self, message: FilterBar.Submitted) -> None:
        try:
            self.filter = parse(message.text, people=self.filter.people)
        except FilterSyntaxError as error:
            self._refuse(message.text, str(error))
            return
        self.pane.table.focus()

    # -- the operator --------------------------------------------------------------------------

    def action_reload(self) -> None:
        """Everything for the filter again, as a new request: answers to earlier ones are
        dropped. Before the connection, nothing: attaching loads."""
        if self._loads is None:
            return
        self._request = request = Request(self.filter, self.page_size)
        self._loads.first_page(request)
        self._loads.facets(request)
        self._loads.namespaces()

    def action_open_diff(self) -> None:
        table = self.pane.table
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
        self.pane.table.focus()

    def action_toggle_people(self) -> None:
        self.filter = narrowing.people_toggled(self.filter)

    def action_toggle_follow(self) -> None:
        self.following = not self.following

    def action_show_new(self) -> None:
        if not self.pane.show_new():
            self.action_reload()
        self.query_one(StatusBar).new = 0
        self._update_shown()

    def action_history(self) -> None:
        """Everything recorded of the selected object, machines' writes too, newest first."""
        event = self.pane.selected_event()
        if event is not None:
            self.filter = narrowing.object_history(event)

    def action_only(self, field: str) -> None:
        event = self.pane.selected_event()
        if event is not None:
            self.filter = narrowing.only(self.filter, event, field)

    def action_toggle_hand_edits(self) -> None:
        """Only hand edits of managed objects, and back: the question operators bring."""
        self.filter = narrowing.hand_edits_toggled(self.filter)

    def action_put_back(self) -> None:
        """From a hand edit to the tool's write that put it back, and from that write back to
        the hand edit: the cursor goes there when it is loaded, else it is opened."""
        event = self.pane.selected_event()
        if event is None:
            return
        target = event.reverted_by if event.hand_edit else next(iter(event.reverts), None)
        if target is None:
            self.notify(NOT_PUT_BACK if event.hand_edit else NOT_A_HAND_EDIT, timeout=3)
        elif not self.pane.table.select_event(target) and self._loads is not None:
            self._loads.related(target, event.namespace)

    def action_clear_filters(self) -> None:
        self.filter = self.filter.cleared()

    def action_toggle_tree(self) -> None:
        self.tree_wanted = self.has_class("-no-tree")

    def action_toggle_time(self) -> None:
        table = self.pane.table
        table.absolute_time = not table.absolute_time
