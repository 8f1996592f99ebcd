"""Privacy primitives: the key that keeps a seized database from naming anyone
(`keys.py`), the sealing of chat identities with it (`identities.py`), and the
marks the schema puts on the columns that hold identities (`marks.py`).

A leaf below the store: it never imports `bot.store` (tests/test_imports.py).
The whole-database operations built on it live above: sealing a database in
place in `bot/store/sealing.py`, the `encrypt` / `rotate-key` / `decrypt`
subcommands in `bot/privacy_cli.py`. What is stored, and for how long:
docs/privacy.md."""
