"""Privacy: the key that keeps a seized database from naming anyone
(`keys.py`), the sealing of chat identities with it (`identities.py`), and
turning encryption on, over to a new key, or off in an existing database
(`encryption.py`). What is stored, and for how long: docs/privacy.md."""
