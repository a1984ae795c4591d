"""The twin graph: twins, relationships and components, their in-memory index and the
query language."""
