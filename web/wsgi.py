"""The WSGI entry point for gunicorn: ``gunicorn -w 4 -b 0.0.0.0:8000 web.wsgi:app``.

Web processes serve pages only; timers, service tasks and messages are run by ``zhixing worker`` processes
(any number, on any machine, sharing the database). Set ``DATABASE_URL`` and, when web processes run on more than
one machine, the same ``ZHIXING_SECRET_KEY`` on each.
"""
from web import create_app

app = create_app()
