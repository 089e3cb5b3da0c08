"""The Textual desk. Reaches trading only through the engine's control surface."""
