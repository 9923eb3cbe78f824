"""Customer Insight: one company per customer, read from an export file the user points at."""
