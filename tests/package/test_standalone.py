"""The repository stands alone: nothing it tracks points at data outside its own tree.

The captured requests and OpenAPI documents live in testdata/; a path into the workspace the
project grew up in would work only beside that workspace, and nowhere a newcomer clones it.
"""

from __future__ import annotations

import re

from tests.package.tracked import ROOT, tracked_files

# Written so that this file does not match itself.
OUTSIDE = re.compile(r"\.\./shared\b|shared[/]fixtures")


def tracked_text_files() -> dict[str, str]:
    texts = {}
    for name in tracked_files():
        try:
            texts[name] = (ROOT / name).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary: no path to follow in it
    return texts


def test_no_tracked_file_refers_outside_the_repository() -> None:
    texts = tracked_text_files()
    assert "testdata/admission/INDEX.md" in texts, "the listing covers testdata too"
    offenders = [
        f"{name}:{text.count(chr(10), 0, match.start()) + 1}: {match.group()}"
        for name, text in texts.items()
        for match in OUTSIDE.finditer(text)
    ]
    assert offenders == []


def test_the_pattern_finds_what_it_looks_for() -> None:
    # Split in two, so that this file does not match itself either.
    assert OUTSIDE.search("FIXTURES = ROOT / '../" + "shared/admission'")
    assert OUTSIDE.search("see /srv/shared/" + "fixtures/index.json")
    assert not OUTSIDE.search("testdata/admission/index.json, shared memory, _shared_batch")
