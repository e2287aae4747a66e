"""One verb = one command = one transaction (run by ``engine.kernel.executor.Executor``).

A command is a small object with ``execute(uow)``; it never begins or commits a transaction itself.
"""
