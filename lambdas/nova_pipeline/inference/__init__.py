"""The inference API: the promoted model, its training system prompt, bounded inference settings."""
