"""Visma Business on premise, read through the customer's agent and the gateway."""
