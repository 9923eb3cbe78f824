"""Companies are Dagster's dynamic partitions, keyed ``<connection>.<erp company id>``."""

from dagster import DynamicPartitionsDefinition

company_partitions = DynamicPartitionsDefinition(name="company")
