"""Contracting Works: project economics (revenue, cost and budgets per project) over its GraphQL client API."""
