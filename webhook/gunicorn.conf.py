"""Gunicorn settings for `reviewer serve`: workers from cores, short timeouts, JSON logs."""

import multiprocessing

from reviewer.settings import Settings
from webhook.logging import gunicorn_logconfig

_settings = Settings.from_env()

wsgi_app = "webhook.app:create_app()"
# A request only verifies, records and enqueues: ~3 ms of CPU and no waiting on the network.
# One sync worker per core keeps the cores busy; more (the usual 2 × cores + 1) only queue
# on SQLite's single writer lock: on 2 cores, 5 workers accepted 190 deliveries/s and
# 2 workers 520/s (bench/bench_webhook.py). `reviewer serve --web-workers N` overrides.
workers = max(multiprocessing.cpu_count(), 2)
worker_class = "sync"
# GitHub waits 10 s for an answer; a request still running after 30 s is stuck.
timeout = 30
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so a slow leak cannot grow for ever.
max_requests = 20_000
max_requests_jitter = 2_000
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
proc_name = "reviewer-web"
# gunicorn 25+ opens a control socket under $HOME by default; two services on one machine
# would share it, and nothing here uses it.
control_socket_disable = True

# The access log names the path without its query string and no header but GitHub's
# delivery id and event: no signature, token or secret can reach it.
accesslog = "-"
access_log_format = (
    "%(m)s %(U)s %(s)s %(B)sB %(M)sms delivery=%({x-github-delivery}i)s event=%({x-github-event}i)s"
)
loglevel = _settings.log_level.lower()
logconfig_dict = gunicorn_logconfig(_settings.log_level, _settings.log_format)
