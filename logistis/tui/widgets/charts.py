"""The insights screen's charts: plotext plots (textual-plotext) whose bars can be chosen.

The client core computes what each bar is (`core.insights.Choice`); these widgets only draw it,
keep which bar is selected, and say which one was chosen.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual_plotext import PlotextPlot

from logistis.client.insights import WEEKDAYS, Choice

PEOPLE_COLOR = "cyan"
AUTOMATION_COLOR = "orange"
SELECTED_MARK = "▶ "


class ChoiceChart(PlotextPlot):
    """Bars to pick from: arrows move, enter chooses."""

    can_focus = True
    BINDINGS = [
        Binding("left,up", "move(-1)", "Previous", show=False),
        Binding("right,down", "move(1)", "Next", show=False),
        Binding("enter", "choose", "Show these events"),
    ]
    selected: reactive[int] = reactive(0, init=False)

    class Chosen(Message):
        def __init__(self, choice: Choice) -> None:
            super().__init__()
            self.choice = choice

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.choices: list[Choice] = []

    def action_move(self, step: int) -> None:
        if self.choices:
            self.selected = max(0, min(len(self.choices) - 1, self.selected + step))

    def action_choose(self) -> None:
        if self.choices:
            self.post_message(self.Chosen(self.choices[self.selected]))

    def watch_selected(self) -> None:
        self.draw()

    def draw(self) -> None:
        """Plot the choices again (data changed, or the selection moved)."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if self.choices:
            chosen = self.choices[min(self.selected, len(self.choices) - 1)]
            plt.title(f"{self.title}: {SELECTED_MARK}{chosen.label} {chosen.count:,}")
            self.plot_choices()
        else:
            plt.title(f"{self.title}: nothing recorded")
        self.refresh()

    def plot_choices(self) -> None:
        raise NotImplementedError


class ActivityChart(ChoiceChart):
    """Changes per bucket, people and automation stacked apart."""

    def show(self, buckets: Sequence[tuple[Choice, int, int]]) -> None:
        first = not self.choices
        self.choices = [choice for choice, _, _ in buckets]
        self._people = [people for _, people, _ in buckets]
        self._automation = [automation for _, _, automation in buckets]
        last = max(len(self.choices) - 1, 0)
        # The newest bucket first; a redraw keeps the selection where the operator put it.
        self.set_reactive(ActivityChart.selected, last if first else min(self.selected, last))
        self.draw()

    def plot_choices(self) -> None:
        plt = self.plt
        positions = list(range(len(self.choices)))
        plt.stacked_bar(
            positions,
            [self._people, self._automation],
            labels=["people", "automation"],
            color=[PEOPLE_COLOR, AUTOMATION_COLOR],
            width=0.6,
        )
        step = max(1, len(positions) // 6)
        ticks = positions[::step]
        plt.xticks(ticks, [self.choices[i].label for i in ticks])
        plt.vline(self.selected, "white")


class RankingChart(ChoiceChart):
    """A top list as horizontal bars, most first."""

    def show(self, choices: Sequence[Choice]) -> None:
        self.choices = list(choices)
        self.set_reactive(RankingChart.selected, min(self.selected, max(len(self.choices) - 1, 0)))
        self.draw()

    def plot_choices(self) -> None:
        # plotext draws the first bar at the bottom: reversed, the most active is on top.
        ordered = list(enumerate(self.choices))[::-1]
        labels = [
            (SELECTED_MARK if number == self.selected else "") + choice.label[-24:]
            for number, choice in ordered
        ]
        self.plt.bar(labels, [c.count for _, c in ordered], orientation="horizontal", width=0.5)


class HourMap(PlotextPlot):
    """The weekday x hour heat map (UTC), Monday on top."""

    def show(self, hours: Sequence[Sequence[int]]) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("Changes by weekday and hour (UTC)")
        plt.matrix_plot([list(row) for row in hours])
        # plotext puts the matrix's first row on top, at y = rows - 1, and column c at x = c.
        plt.yticks([len(WEEKDAYS) - 1 - day for day in range(len(WEEKDAYS))], list(WEEKDAYS))
        plt.xticks(list(range(0, 24, 3)), [f"{h:02d}" for h in range(0, 24, 3)])
        plt.xlabel("")
        plt.ylabel("")
        self.refresh()
