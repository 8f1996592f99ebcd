"""Pickets: reminder decisions, the scheduler that fires them, and the .ics calendar."""
