"""What the front ends say of who acted and what manages the object (docs/api.md): one wording
for the TUI and `kubectl logistis`.

A hand edit (a person, or anyone but the managing tool and Kubernetes' own controllers,
changing what Argo CD, Flux or Helm applied) is marked `✋`; one the tool put back `✋↩`, and
the tool's write that put it back `↩`. An unmarked hand edit is one that stuck: the drift an
operator most wants to see.
"""

from __future__ import annotations

import re

from logistis.client.events import Event, ManagedBy, Revision

HAND_EDIT_MARK = "✋"
PUT_BACK_MARK = "↩"
# A commit id is told by its first characters, as git prints it; the rest only widens a row.
_COMMIT = re.compile(r"\b([0-9a-f]{7})[0-9a-f]{5,}\b")


def hand_mark(event: Event) -> str:
    """`✋` a hand edit that stuck, `✋↩` one put back, `↩` the write that put one back."""
    if event.hand_edit:
        return HAND_EDIT_MARK + (PUT_BACK_MARK if event.reverted_by is not None else "")
    return PUT_BACK_MARK if event.reverts else ""


def hand_words(event: Event) -> str:
    """The mark in words: `hand edit, put back by event 1047`."""
    if event.hand_edit:
        if event.reverted_by is None:
            return "hand edit, not put back"
        return f"hand edit, put back by event {event.reverted_by}"
    if event.reverts:
        return f"puts back hand edit {', '.join(str(i) for i in event.reverts)}"
    return ""


def actor_text(event: Event) -> str:
    """`person (kubectl)`, `gitops (argocd)`, `controller`; empty while not told."""
    actor = event.actor
    if actor is None:
        return ""
    return f"{actor.kind} ({actor.tool})" if actor.tool else actor.kind


def managed_text(managed: ManagedBy | None) -> str:
    """`argocd shop`, `flux flux-system/apps`; empty when nothing manages the object."""
    if managed is None:
        return ""
    where = f"{managed.namespace}/" if managed.namespace else ""
    return f"{managed.tool} {where}{managed.name}"


def short_revision(text: str) -> str:
    """`8f2c1e0` for a 40-digit commit, `main@sha1:1a2b3c4` for Flux's revision."""
    return _COMMIT.sub(r"\1", text)


def revision_text(revision: Revision | None, *, short: bool = True) -> str:
    """`shop@8f2c1e0`: the source and the revision it was applying."""
    if revision is None:
        return ""
    shown = short_revision(revision.revision) if short else revision.revision
    return f"{revision.name}@{shown}"


def provenance_line(event: Event) -> str:
    """One line for a detail: who acted, what manages the object, the mark, the revision."""
    parts = [
        f"actor {actor_text(event)}" if event.actor else "",
        f"managed by {managed_text(event.managed_by)}" if event.managed_by else "",
        hand_words(event),
        f"revision {revision_text(event.revision, short=False)}" if event.revision else "",
    ]
    return "  ·  ".join(part for part in parts if part)
