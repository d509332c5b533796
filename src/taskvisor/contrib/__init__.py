"""taskvisor.contrib — subscribers for the monitoring systems services already run.

Each module needs an optional extra and imports it only when the module itself is imported
(``import taskvisor`` never does):

- ``taskvisor.contrib.prometheus.PrometheusSubscriber``: ``pip install 'taskvisor[prometheus]'``
- ``taskvisor.contrib.otel.OpenTelemetrySubscriber``: ``pip install 'taskvisor[otel]'``

Both turn the same events into the same instruments (``_instruments``); see docs/recipes.md.
"""
