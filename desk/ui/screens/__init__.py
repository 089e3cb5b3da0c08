"""The desk's screens and modals."""
