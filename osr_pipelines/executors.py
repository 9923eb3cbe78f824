"""Which executor runs an import job's steps: this process, or Celery workers on other machines.

One installation outgrows one machine by spreading on an existing engine
(``dagster-celery``), not on one of ours; the job definitions stay the same and
only ``OSR_EXECUTOR`` chooses. Every process that loads the code location (the
daemon, the run's process, the webserver and each Celery worker) must see the
same value, because each one builds the jobs from it.

On Celery the broker and result backend are read from ``OSR_CELERY_BROKER`` and
``OSR_CELERY_BACKEND`` when a run starts, as Dagster ``env`` config: the broker
URL carries a password, and so it never enters a run's stored config. The
workers' ``deploy/celery/worker.yaml`` reads the same two variables, so both
ends meet on one broker.
"""

from __future__ import annotations

import os

from dagster import ExecutorDefinition, in_process_executor

EXECUTOR_ENV = "OSR_EXECUTOR"
BROKER_ENV, BACKEND_ENV = "OSR_CELERY_BROKER", "OSR_CELERY_BACKEND"


def import_executor() -> ExecutorDefinition:
    """The executor named by ``OSR_EXECUTOR``: ``in_process`` (the default) or ``celery``."""
    kind = os.environ.get(EXECUTOR_ENV, "in_process")
    if kind == "in_process":
        return in_process_executor
    if kind != "celery":
        raise ValueError(f"{EXECUTOR_ENV}={kind!r}: use 'in_process' (the default) or 'celery'")
    missing = [name for name in (BROKER_ENV, BACKEND_ENV) if not os.environ.get(name)]
    if missing:
        raise ValueError(f"{EXECUTOR_ENV}=celery needs {' and '.join(missing)} (e.g. "
                         "pyamqp://user:password@rabbitmq:5672// and redis://redis:6379/0)")
    try:
        from dagster_celery import celery_executor
    except ImportError:
        raise ValueError(f"{EXECUTOR_ENV}=celery needs the celery extra: pip install 'osr-pipelines[celery]'") \
            from None
    return celery_executor.configured({"broker": {"env": BROKER_ENV}, "backend": {"env": BACKEND_ENV}},
                                      name="celery")
