"""Feed connectors: registry, polling, parsing and normalisation of RSS/Atom feeds into RawArticle records."""
