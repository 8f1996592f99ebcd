"""Delivery: items become outbox rows (dispatcher), rows become messages
(composers), and workers send them through the adapters, recording each outcome.
"""
