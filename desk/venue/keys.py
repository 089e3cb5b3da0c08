"""API keys and sessions of the embedded venue.

A key's secret is returned once, at creation; only its SHA-256 is kept. Keys are
managed with a session token (never with a key); orders need a key.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from desk.venue.errors import VenueError

DAY_MS = 86_400_000
MAX_SESSIONS = 16  # per account
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_networks(allowed_ips: list[str]) -> list[IpNetwork]:
    """Parse addresses or CIDR blocks; a bad one is a VALIDATION error naming it."""
    nets = []
    for i, text in enumerate(allowed_ips):
        try:
            nets.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError:
            raise VenueError("VALIDATION", f"allowedIps[{i}]: {text!r} is not an IP address",
                             {"fieldErrors": {f"allowedIps.{i}": ["not an IP address"]}}) from None
    return nets


def _shown(networks: list[IpNetwork]) -> list[str]:
    """allowedIps as the key list shows them: an address alone, a block as CIDR."""
    return [str(n) if n.num_addresses > 1 else str(n.network_address) for n in networks]


@dataclass(slots=True)
class ApiKey:
    key_id: str
    account_id: str
    name: str
    scope: str
    allowed_ips: list[str]
    networks: list[IpNetwork]
    secret_hash: str
    created_at: int
    expires_at: int | None = None
    revoked_at: int | None = None
    last_used_at: int | None = None
    last_used_ip: str | None = None
    uses: int = field(default=0)

    def status(self, now_ms: int) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and now_ms >= self.expires_at:
            return "expired"
        return "active"

    def allows(self, ip: str | None) -> bool:
        if not self.networks:
            return True
        if ip is None:
            return False
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped  # an IPv4 client on a dual-stack socket
        return any(addr in net for net in self.networks)


class KeyStore:
    def __init__(self, clock: Callable[[], int],
                 token: Callable[[int], str] = secrets.token_urlsafe):
        self.clock = clock
        self.token = token
        self.keys: dict[str, ApiKey] = {}  # id -> key
        self.by_hash: dict[str, ApiKey] = {}
        self.sessions: dict[str, str] = {}  # sha256(token) -> account

    # --- sessions -------------------------------------------------------------------

    def new_session(self, account_id: str) -> str:
        """A new session token; an account keeps its newest MAX_SESSIONS sessions."""
        token = "ocx_sess_" + self.token(32)
        self.sessions[_sha256(token)] = account_id
        mine = [h for h, a in self.sessions.items() if a == account_id]
        for stale in mine[:-MAX_SESSIONS]:  # dicts keep insertion order: oldest first
            del self.sessions[stale]
        return token

    def session_account(self, token: str | None) -> str:
        account = self.sessions.get(_sha256(token)) if token else None
        if account is None:
            raise VenueError("UNAUTHENTICATED",
                             "a session token is required (Authorization: Bearer <token>)")
        return account

    # --- keys -----------------------------------------------------------------------

    def create(self, account_id: str, name: str, scope: str, allowed_ips: list[str],
               expires_in_days: int | None) -> tuple[ApiKey, str]:
        networks = parse_networks(allowed_ips)
        now = self.clock()
        secret = "ocx_sk_" + self.token(32)
        key = ApiKey(
            key_id="ocx_kid_" + self.token(12), account_id=account_id, name=name, scope=scope,
            allowed_ips=_shown(networks),
            networks=networks, secret_hash=_sha256(secret), created_at=now,
            expires_at=None if expires_in_days is None else now + expires_in_days * DAY_MS,
        )
        self.keys[key.key_id] = key
        self.by_hash[key.secret_hash] = key
        return key, secret

    def list(self, account_id: str) -> list[ApiKey]:
        return [k for k in self.keys.values() if k.account_id == account_id]

    def get(self, account_id: str, key_id: str) -> ApiKey:
        """The account's key of that id; NOT_FOUND for a key of another account."""
        key = self.keys.get(key_id)
        if key is None or key.account_id != account_id:
            raise VenueError("NOT_FOUND", f"no API key {key_id!r} on this account",
                             {"id": key_id})
        return key

    def revoke(self, account_id: str, key_id: str) -> ApiKey:
        key = self.get(account_id, key_id)
        if key.revoked_at is None:
            key.revoked_at = self.clock()
        return key

    # --- faults ([embedded only] `expire_key`, `fence_key`) -------------------------

    def set_expiry(self, key: ApiKey, expires_at: int | None) -> int | None:
        """Set when a key expires (now: it expires at once); the previous value."""
        previous, key.expires_at = key.expires_at, expires_at
        return previous

    def set_allowed_ips(self, key: ApiKey, allowed_ips: list[str]) -> list[str]:
        """Replace a key's allowedIps (addresses or CIDR blocks); the previous list."""
        networks = parse_networks(allowed_ips)
        previous = list(key.allowed_ips)
        key.networks = networks
        key.allowed_ips = _shown(networks)
        return previous

    def check(self, key: ApiKey) -> None:
        """Raise if a key (already authenticated once) is no longer usable."""
        status = key.status(self.clock())
        if status == "revoked":
            raise VenueError("KEY_REVOKED", "this API key has been revoked", {"id": key.key_id})
        if status == "expired":
            raise VenueError("KEY_EXPIRED", "this API key has expired", {"id": key.key_id})

    def authenticate(self, secret: str | None, ip: str | None, trade: bool) -> ApiKey:
        key = self.by_hash.get(_sha256(secret)) if secret else None
        if key is None:
            raise VenueError("UNAUTHENTICATED", "a valid x-api-key header is required")
        if not key.allows(ip):  # before any news of the key's state to a stranger
            raise VenueError("IP_NOT_ALLOWED", f"this key does not allow requests from {ip}",
                             {"ip": ip, "id": key.key_id})
        self.check(key)
        if trade and key.scope != "trade":
            raise VenueError("FORBIDDEN_SCOPE", "this route needs a key with scope 'trade'",
                             {"scope": key.scope, "id": key.key_id})
        key.last_used_at = self.clock()
        key.last_used_ip = ip
        key.uses += 1
        return key
