"""The fanout: the one reader of the table's stream, turning each record into a published change envelope."""
