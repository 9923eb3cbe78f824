"""The data gateway: where on-premise agents connect out to, and where connectors send their requests."""
