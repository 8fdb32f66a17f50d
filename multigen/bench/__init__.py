"""Cross-domain benchmark: domain × method × sampling budget, one report."""
