"""The background: the worker that leases due jobs and the scheduler that ticks it."""
