"""Photos and leaflets that travel with an update (front matter `media:`).

This package owns the files themselves: which kinds are accepted, checking
them, stripping their metadata (EXIF, XMP, IPTC, ICC comments; a PDF's
author, producer and creator tool) and the stripped copies that everything
sends or serves. `types.py` is the leaf every layer may import: the
content side builds `Media` values, the delivery side hands them to the
adapters in `Outgoing.media`, and the web face serves their stripped bytes.
"""
