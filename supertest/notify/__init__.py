"""Notifications: rules (pure), the transactional outbox, channel senders and the sender loop."""
