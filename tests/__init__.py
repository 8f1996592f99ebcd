"""strikewire's tests."""
