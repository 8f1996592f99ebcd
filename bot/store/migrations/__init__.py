"""Alembic migrations for the strikewire database."""
