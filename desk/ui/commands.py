"""Every desk action in the command palette (ctrl+p)."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

ACTIONS = [
    ("Panic: pull every quote", "panic", "cancel-all on the venue; every strategy stands down"),
    ("Re-arm after a panic", "rearm", "restart the strategies the panic stopped"),
    ("Pause / resume the selected strategy", "pause_resume", "its quotes pulled; position kept"),
    ("Stop the selected strategy", "stop", "asks whether to flatten"),
    ("Flatten the selected strategy", "flatten", "pause it and close its position"),
    ("Edit the selected strategy", "edit", "every parameter, applied live"),
    ("New strategy", "new", "from the defaults"),
    ("Strategy detail", "detail", "metrics, quote stats, fills, events"),
    ("API keys", "keys", "list, create, revoke, choose the engine's key"),
    ("Help", "help", "every key"),
    ("Quit", "quit", "asks first (what rests, what is open); flatten all or not; pulls every "
     "quote"),
]


class DeskCommands(Provider):
    async def _run(self, action: str) -> None:
        await self.app.run_action(action)

    async def discover(self) -> Hits:
        for title, action, help_text in ACTIONS:
            yield DiscoveryHit(title, partial(self._run, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, action, help_text in ACTIONS:
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self._run, action),
                          help=help_text)
