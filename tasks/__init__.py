"""rq job functions: thin, importable, taking ids. Their dotted paths are stored in Redis: keep them stable."""
