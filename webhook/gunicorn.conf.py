"""Gunicorn settings for `reviewer serve`: workers from cores, short timeouts, JSON logs."""

import multiprocessing

from reviewer.settings import Settings
from webhook.logging import gunicorn_logconfig

_settings = Settings.from_env()

wsgi_app = "webhook.app:create_app()"
# A request only verifies, records and enqueues: ~1 ms of CPU and no waiting on the network.
# Threads, not sync workers: a sync worker is held by one slow client for as long as it
# trickles its body, so a handful of them stall every delivery (GitHub gives up after 10 s
# and does not redeliver). Each thread of DeadlineThreadWorker must have a request's headers
# and body within REVIEWER_WEBHOOK_READ_TIMEOUT_S (5 s) or the connection is cut, and a
# connection that sends nothing waits in gunicorn's poller without a thread. With T threads
# and W workers, S stalled clients delay a delivery by about S / (T x W) x 5 s, so 2 x 64
# threads answer within 10 s with 250 clients stalling at once (bench/bench_webhook.py
# --stallers). One process per core keeps the cores busy; more only queue on SQLite's
# single writer lock. `reviewer serve --web-workers N` overrides.
workers = max(multiprocessing.cpu_count(), 2)
worker_class = "webhook.worker.DeadlineThreadWorker"
threads = 64
worker_connections = 1000
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
