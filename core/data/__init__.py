"""The data model every stage shares: two knowledge graphs, the schema that relates them, known links and their splits, candidate pairs. Imports nothing else from core."""
