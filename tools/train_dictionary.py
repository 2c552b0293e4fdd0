"""Train the zstd dictionary that `collector.codec` compresses objects with.

The samples are the objects of the captured AdmissionReview fixtures, except the three that the
storage benchmark (`tools/bench.py`) replays as update streams, so that the benchmark measures
objects the dictionary has never seen. A new dictionary must get a new id: blobs written with
an older one name it and stay readable only while it ships too.

    .venv/bin/python tools/train_dictionary.py --id 1 > logistis/collector/store/codec-dictionary-1.json
"""

from __future__ import annotations

import argparse
import base64
import json
import sys

import orjson
import zstandard
from benchdata import held_out

from tests.support.fixtures import bodies

SIZE = 16 * 1024


def samples() -> list[bytes]:
    found = []
    excluded = held_out()
    for body in bodies():
        request = body["request"]
        if (request.get("namespace"), request.get("name")) in excluded:
            continue
        found += [
            orjson.dumps(request[k]) for k in ("object", "oldObject", "options") if request.get(k)
        ]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(prog="train_dictionary", description=__doc__.splitlines()[0])
    parser.add_argument("--id", type=int, required=True, help="the dictionary's id, 1-255")
    args = parser.parse_args()
    trained = zstandard.train_dictionary(SIZE, samples(), level=19, threads=0)
    print(
        json.dumps(
            {
                "id": args.id,
                "samples": "objects of testdata/admission but the benchmark's update streams",
                "dictionary": base64.b64encode(trained.as_bytes()).decode(),
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
