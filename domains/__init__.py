"""Domain adapters shipped with multigen (found through the ``multigen.domains`` entry points)."""
