"""The desk's widgets; each redraws from a `DeskView` when its screen's timer says so."""
