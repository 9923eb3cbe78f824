"""Companies are Dagster's dynamic partitions, keyed ``<connection>.<erp company id>``; clients, for
group reporting, are a second dynamic partition keyed by the client's name."""

from dagster import DynamicPartitionsDefinition

company_partitions = DynamicPartitionsDefinition(name="company")
client_partitions = DynamicPartitionsDefinition(name="client")
