"""The Visma Business data model, shared by Business NXT (GraphQL) and Visma Business on premise (SQL)."""
