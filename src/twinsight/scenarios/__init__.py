"""Demo worlds built only from Twinsight's public pieces (factory first)."""
