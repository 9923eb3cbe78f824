"""Visma Business NXT: GraphQL client for direct reports and group-reporting imports."""
