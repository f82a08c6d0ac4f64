"""Data preparation: raw data in, validated Nova training sets out (used by PrepareData and the CLI)."""
