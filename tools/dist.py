"""`make dist`: the kubectl logistis plugin as krew installs it, and its krew manifest.

The archive holds `kubectl-logistis`, a zipapp of the client's tracked sources and the
pure-Python distributions they need (taken from this virtualenv, so nothing is downloaded),
run by the `python3` on PATH (3.11 or newer), and `kubectl_complete-logistis`, the completion
script kubectl looks for. docs/blame.md says why a zipapp. The archive is reproducible: the
same sources and dependencies give the same bytes, so the manifest's sha256 names them.

    python tools/dist.py [--out DIR] [--manifest FILE] [--base-url URL]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Iterable, Iterator
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path

import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.package.tracked import tracked_files  # noqa: E402 (the repository's own listing)

PLUGIN = "kubectl-logistis"
COMPLETION = "kubectl_complete-logistis"
# What the plugin imports of the project: the client core and the plugin, not the TUI app.
SOURCES = (
    "logistis/__init__.py",
    "logistis/version.py",
    "logistis/backoff.py",
    "logistis/client",
    "logistis/kubectl",
)
# Dependencies of the package that the plugin never imports.
NOT_FOR_THE_PLUGIN = {"textual", "textual-plotext"}
# Compiled extensions cannot be imported from a zip; the ones that come with PyYAML are its
# optional speed-up, and leaving them out keeps the archive the same on every platform.
COMPILED = (".so", ".pyd", ".dylib")
HOMEPAGE = "https://github.com/logistis/logistis"
BASE_URL = f"{HOMEPAGE}/releases/download"
# Zip and tar entries carry this time, so that a rebuild gives the same bytes.
EPOCH = (1980, 1, 1, 0, 0, 0)
MAIN = """\
import sys

if sys.version_info < (3, 11):
    sys.stderr.write(
        "error: kubectl-logistis needs Python 3.11 or newer as python3 on PATH; found %s\\n"
        % sys.version.split()[0]
    )
    sys.exit(1)

from logistis.kubectl.plugin import main

sys.exit(main())
"""
COMPLETION_SCRIPT = """\
#!/bin/sh
# kubectl (1.26 and newer) runs this to complete `kubectl logistis ...`.
exec "$(dirname "$0")/kubectl-logistis" __complete "$@"
"""
DESCRIPTION = """\
Reads the history the logistis collector records from a validating admission webhook: every
create, update and delete, with the user, the field manager and the object before and after.

  kubectl logistis blame deployment/nginx -n team-a   # who changed it, and how
  kubectl logistis blame deploy nginx --fields        # each line with its last writer
  kubectl logistis log -n team-a --since 1h           # what changed in the last hour
  kubectl logistis diff deploy/nginx --from 2h        # what changed since then
  kubectl logistis who -n team-a --since 7d           # who was active

The collector must run in the cluster (see the homepage); the plugin reaches it through
kubectl port-forward, or through the Kubernetes API when the cluster serves it.
"""
CAVEATS = """\
This plugin is a Python zipapp: it needs python3, version 3.11 or newer, on PATH.
It carries its own Python dependencies; reading the history through the cluster's Kubernetes
API (--via kube-api) needs `pip install 'logistis[kube-api]'` instead; without it the plugin
opens a port-forward to the collector (create on pods/portforward in its namespace).

Shell completion (kubectl 1.26+): put kubectl_complete-logistis on PATH, e.g.
  ln -s "$(dirname "$(readlink -f "$(command -v kubectl-logistis)")")/kubectl_complete-logistis" \\
    "${KREW_ROOT:-$HOME/.krew}/bin/"
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="where the archive goes")
    parser.add_argument(
        "--manifest",
        type=Path,
        default=ROOT / "plugins" / "logistis.yaml",
        help="the krew manifest to write",
    )
    parser.add_argument("--base-url", default=BASE_URL, help="where releases are downloaded")
    args = parser.parse_args(argv)
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    archive = build(args.out, version)
    write_manifest(args.manifest, archive, version, args.base_url)
    print(archive)
    print(args.manifest)


def build(out: Path, version: str) -> Path:
    """The archive `kubectl-logistis_vVERSION.tar.gz` in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    archive = out / f"{PLUGIN}_v{version}.tar.gz"
    members = {PLUGIN: zipapp(version), COMPLETION: COMPLETION_SCRIPT.encode()}
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o755, 0
            tar.addfile(info, io.BytesIO(data))
    archive.write_bytes(gzip.compress(raw.getvalue(), mtime=0))
    return archive


def zipapp(version: str) -> bytes:
    """The plugin as one executable file: a shebang, then a zip Python runs as a program."""
    files = dict(sorted([*_sources(), *_dependencies()]))
    files["__main__.py"] = MAIN.encode()
    # importlib.metadata finds this inside the zip: --version names the release.
    files[f"logistis-{version}.dist-info/METADATA"] = (
        f"Metadata-Version: 2.1\nName: logistis\nVersion: {version}\n".encode()
    )
    buffer = io.BytesIO()
    # Written before the zip, so that its offsets count the shebang in, as zipapp writes them.
    buffer.write(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, data in files.items():
            entry = zipfile.ZipInfo(name, EPOCH)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            zipped.writestr(entry, data)
    return buffer.getvalue()


def _sources() -> Iterator[tuple[str, bytes]]:
    for name in tracked_files(*SOURCES):
        if name.endswith(".py"):
            yield name, (ROOT / name).read_bytes()


def _dependencies() -> Iterator[tuple[str, bytes]]:
    for dist in _closure(_plugin_requirements()):
        for file in dist.files or ():
            name = file.as_posix()
            if name.startswith("..") or "__pycache__" in name or name.endswith(".pyc"):
                continue
            if name.endswith(COMPILED) or name.endswith("/RECORD"):
                continue
            yield name, Path(str(dist.locate_file(file))).read_bytes()


def _plugin_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(text) for text in project["dependencies"]]
    return [r for r in wanted if r.name.lower() not in NOT_FOR_THE_PLUGIN]


def _closure(requirements: Iterable[Requirement]) -> list[Distribution]:
    """The installed distributions the requirements need, theirs too, without extras."""
    environment = {**default_environment(), "extra": ""}
    found: dict[str, Distribution] = {}
    pending = list(requirements)
    while pending:
        requirement = pending.pop()
        key = requirement.name.lower().replace("_", "-")
        if key in found:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        try:
            dist = distribution(requirement.name)
        except PackageNotFoundError:
            sys.exit(f"error: {requirement.name} is not installed here: run make install first")
        found[key] = dist
        pending.extend(Requirement(text) for text in dist.requires or ())
    return [found[key] for key in sorted(found)]


def write_manifest(path: Path, archive: Path, version: str, base_url: str) -> None:
    """The krew manifest (krew.googlecontainertools.github.com/v1alpha2) for `archive`."""
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    manifest = {
        "apiVersion": "krew.googlecontainertools.github.com/v1alpha2",
        "kind": "Plugin",
        "metadata": {"name": "logistis"},
        "spec": {
            "version": f"v{version}",
            "homepage": HOMEPAGE,
            "shortDescription": "Who changed what in the cluster, down to the field",
            "description": DESCRIPTION,
            "caveats": CAVEATS,
            "platforms": [
                {
                    "selector": {
                        "matchExpressions": [
                            {"key": "os", "operator": "In", "values": ["darwin", "linux"]}
                        ]
                    },
                    "uri": f"{base_url}/v{version}/{archive.name}",
                    "sha256": digest,
                    "files": [
                        {"from": PLUGIN, "to": "."},
                        {"from": COMPLETION, "to": "."},
                    ],
                    "bin": PLUGIN,
                }
            ],
        },
    }
    header = "# Written by make dist (tools/dist.py) for the archive it built; do not edit.\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + yaml.dump(manifest, Dumper=_Dumper, sort_keys=False, width=100))


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, readable as krew shows them."""


def _text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _text)


if __name__ == "__main__":
    main()
