"""Alembic revisions of the warehouse schema; applied by ``osr_pipelines.warehouse.migrate``."""
