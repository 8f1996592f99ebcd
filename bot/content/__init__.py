"""Content: update files in `updates/` become validated items in the catalog.

loader (one file) → items (what it means) → catalog (the folder), and the
watcher that reloads the catalog when the folder changes.
"""
