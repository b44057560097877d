"""Parses OpenMetrics text from stdin with the reference parser (prometheus_client's
openmetrics parser, which refuses malformed exposition) and prints every sample as JSON:
[{"name", "labels", "value"}, ...], and the families with their types."""
import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

families = list(text_string_to_metric_families(sys.stdin.read()))
print(json.dumps({
    "families": {f.name: f.type for f in families},
    "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for f in families for s in f.samples],
}))
