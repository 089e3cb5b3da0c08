"""desk's one theme."""

from textual.theme import Theme

DESK_THEME = Theme(
    name="desk",
    primary="#4EA1D3",
    secondary="#7A8B99",
    accent="#F2B33D",
    warning="#F2B33D",
    error="#E5484D",
    success="#3DD68C",
    foreground="#D8DEE9",
    background="#12161C",
    surface="#1A2029",
    panel="#222A35",
    dark=True,
)
