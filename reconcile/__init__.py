"""Statement and settlement importers, the matching engine, exceptions and reports."""
