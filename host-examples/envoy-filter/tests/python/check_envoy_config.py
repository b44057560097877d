"""Parses an Envoy config file into Envoy's v3 Bootstrap with envoy-data-plane's classes.

Unknown fields are refused (an exception, exit 1); deprecated fields are reported, one line
each on stdout as `deprecated: <warning>`, and so is each `typed_config` resolved to its
message type (`typed: <type url>`), so the caller can see the nested configs were checked;
the last line is `bootstrap: ` and the parsed Bootstrap as JSON (proto3 JSON names).
"""
import importlib
import json
import sys
import warnings

import yaml
from envoy_data_plane.envoy.config.bootstrap.v3 import Bootstrap


def typed_urls(value):
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "@type":
                yield inner
            yield from typed_urls(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from typed_urls(inner)


def main(path):
    with open(path) as f:
        document = yaml.safe_load(f)
    # A typed_config's message class registers itself when its module is imported: import the
    # package each @type names (an unknown type then fails to import, or to unpack).
    for url in set(typed_urls(document)):
        package = url.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        importlib.import_module("envoy_data_plane." + package)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bootstrap = Bootstrap.from_dict(document)
    for w in caught:
        if issubclass(w.category, DeprecationWarning):
            print(f"deprecated: {w.message}")
    # Each typed_config came back as the message its @type names, or from_dict failed.
    round_trip = bootstrap.to_dict()
    for url in typed_urls(round_trip):
        print(f"typed: {url}")
    print("bootstrap: " + json.dumps(round_trip))


if __name__ == "__main__":
    main(sys.argv[1])
