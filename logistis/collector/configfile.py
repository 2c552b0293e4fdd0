"""The collector's YAML config file (`--config`): read, checked, and flattened to the keys
the settings declare (`retention.maxAge`, `redaction.keyFile`) and the sections handed whole to
their own parsers (`capture`, `gitops`, `notify`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from logistis.collector.options import SettingsError, declared


def load(path: Path | None, settings: type) -> dict[str, Any]:
    """The file's values by key, checked against the keys `settings` declares."""
    if path is None:
        return {}
    loaded = _read(path)
    keys = {option.key for _, option in declared(settings) if option.key}
    sections = sorted({key.split(".")[0] for key in keys})
    if not isinstance(loaded, dict):
        raise SettingsError(f"--config {path}: must be a mapping with {'/'.join(sections)}")
    unknown = set(loaded) - set(sections)
    if unknown:
        raise SettingsError(f"--config {path}: unknown sections {sorted(unknown)}")
    return dict(_flattened(path, loaded, keys))


def _read(path: Path) -> Any:
    # Imported here: only a --config file needs it, and the processes that read their
    # settings without one (the deriver's, the webhook workers') are spared ~30 ms each.
    import yaml

    try:
        return yaml.safe_load(path.read_text()) or {}
    except OSError as error:
        raise SettingsError(f"--config {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise SettingsError(f"--config {path}: not valid YAML ({error})") from None


def _flattened(path: Path, loaded: dict[str, Any], keys: set[str]) -> Iterator[tuple[str, Any]]:
    for section, value in loaded.items():
        if section in keys:
            yield section, value  # a whole section: its parser checks it
            continue
        if value is None:
            continue
        if not isinstance(value, dict):
            raise SettingsError(f"--config {path}: {section} must be a mapping")
        unknown = {f"{section}.{key}" for key in value} - keys
        if unknown:
            names = sorted(name.partition(".")[2] for name in unknown)
            raise SettingsError(f"--config {path}: {section}: unknown keys {names}")
        for key, item in value.items():
            if item is not None:
                yield f"{section}.{key}", item
