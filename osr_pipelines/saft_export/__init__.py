"""SAF-T Financial 1.30 written from the warehouse, and SAF-T files checked against the Tax Administration's XSDs."""
