"""The GitHub App service: the webhook endpoint, the job queue and its workers."""
