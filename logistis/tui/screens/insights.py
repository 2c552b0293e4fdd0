"""The insights screen: when the cluster was changed, by whom, people against automation,
which objects churn; for the period and namespace of the event list. Choosing a bar or a
bucket returns to the list, filtered to it."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Header, Static, TabbedContent, TabPane

from logistis.client.events import EventFilter
from logistis.client.insights import Insights, bucket_choices, ranked_choices
from logistis.client.protocol import HistoryClient
from logistis.tui.loads import Loads, Request
from logistis.tui.messages import EventReceived, LinkChanged
from logistis.tui.screens.base import WorkingScreen
from logistis.tui.widgets.charts import ActivityChart, ChoiceChart, HourMap, RankingChart
from logistis.tui.widgets.key_footer import KeyFooter

# Live events redraw the charts at most this often: each redraw asks the collector again.
REDRAW_SECONDS = 2.0
TOP = 10
RANKINGS = (
    ("people", "Top people"),
    ("namespaces", "Busiest namespaces"),
    ("kinds", "Busiest kinds"),
    ("objects", "Most changed objects"),
)


class InsightsLoaded(Message):
    def __init__(self, insights: Insights, latest: int | None) -> None:
        super().__init__()
        self.insights, self.latest = insights, latest


class InsightsScreen(WorkingScreen[EventFilter | None]):
    """Dismissed with the event list's filter narrowed to what was chosen, or None."""

    BINDINGS = [
        Binding("escape", "back", "Back to the list"),
        Binding("r", "reload", "Reload", show=False),
    ]
    HELP_TITLE = "Insights"

    def __init__(self, filter: EventFilter, client: HistoryClient) -> None:
        super().__init__()
        # People and automation apart: every actor is counted, whatever the list shows.
        self.filter, self.client = filter, client
        self._following = False
        self._redraw_due = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="insights-summary", markup=False)
        with TabbedContent(id="insights-tabs"):
            with TabPane("Activity", id="activity-tab"):
                yield ActivityChart("Changes over time", id="activity")
            with TabPane("Hours", id="hours-tab"):
                yield HourMap(id="hours")
            for which, title in RANKINGS:
                with TabPane(title.split()[-1].capitalize(), id=f"{which}-tab"):
                    yield RankingChart(title, id=which)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(ActivityChart).focus()
        self.action_reload()

    @property
    def counted(self) -> EventFilter:
        return self.filter.with_(people=None)

    @work(exclusive=True, group="insights", exit_on_error=False, description="loading insights")
    async def load(self, client: HistoryClient, filter: EventFilter) -> None:
        found = await client.insights(filter, top=TOP)
        page = await client.events(filter, limit=1)
        self.post_message(InsightsLoaded(found, page.items[0].id if page.items else None))

    def on_insights_loaded(self, message: InsightsLoaded) -> None:
        found = message.insights
        people, automation = found.by_actor["person"], found.total - found.by_actor["person"]
        self.query_one("#insights-summary", Static).update(
            f"{found.total:,} changes · people {people:,} · automation {automation:,}"
            f" · hand edits {found.hand_edits:,} · {found.since:%m-%d %H:%M}"
            f" to {found.until:%m-%d %H:%M} UTC"
        )
        self.query_one(ActivityChart).show(bucket_choices(found))
        self.query_one(HourMap).show(found.busiest_hours)
        for which, _ in RANKINGS:
            self.query_one(f"#{which}", RankingChart).show(ranked_choices(found, which))
        if not self._following:
            self._following = True
            live = Loads(self, self.client)
            live.follow(Request(self.counted), message.latest or 0, group="insights-live")

    def on_event_received(self, message: EventReceived) -> None:
        if not self._redraw_due:
            self._redraw_due = True
            self.set_timer(REDRAW_SECONDS, self.action_reload)

    def on_link_changed(self, message: LinkChanged) -> None:
        message.stop()  # the event list shows the link; this screen only redraws

    @on(ChoiceChart.Chosen)
    def _chosen(self, message: ChoiceChart.Chosen) -> None:
        self.dismiss(self.filter.with_(**message.choice.narrowing))

    @on(TabbedContent.TabActivated)
    def _tab_shown(self, message: TabbedContent.TabActivated) -> None:
        pane = message.pane
        if pane is not None:
            for chart in pane.query(ChoiceChart):
                chart.focus()

    def action_reload(self) -> None:
        self._redraw_due = False
        self.load(self.client, self.counted)

    def action_back(self) -> None:
        self.dismiss(None)
