"""The brake on password guessing at the DVCQG-compatible login.

Failed logins are counted in Redis per username and per client IP, each in a fixed window that
opens with its first failure (``<ns>:login:user:<sha256 of username>``, ``<ns>:login:ip:<ip>``,
both expiring with the window). Once a count reaches its limit, attempts are refused until the
window closes, before the password is checked.

Each attempt is counted *before* its password is checked, in the same Lua call that checks the
limits: a burst of concurrent guesses cannot all slip under the limit between a check and an
increment. A success then takes its attempt back: it clears the username's count and returns
its unit to the IP's count, so only failures remain counted.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import redis

from gateway.config import LoginThrottleSettings

__all__ = ["LoginAttempt", "LoginThrottle"]

# KEYS: user counter, IP counter. ARGV: window (ms), user limit, IP limit.
# Returns 0 when the attempt may proceed (and is counted), else the wait in ms.
_ADMIT = r"""
local window = tonumber(ARGV[1])
local function ttl(key)
  local left = redis.call('PTTL', key)
  if left < 0 then
    -- A counter must always expire; repair one that somehow lost its TTL.
    redis.call('PEXPIRE', key, window)
    left = window
  end
  return left
end
local wait = 0
if tonumber(redis.call('GET', KEYS[1]) or '0') >= tonumber(ARGV[2]) then
  wait = math.max(wait, ttl(KEYS[1]))
end
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[3]) then
  wait = math.max(wait, ttl(KEYS[2]))
end
if wait > 0 then
  return wait
end
for _, key in ipairs(KEYS) do
  redis.call('INCR', key)
  if redis.call('PTTL', key) < 0 then
    redis.call('PEXPIRE', key, window)
  end
end
return 0
"""

# KEYS: user counter, IP counter. A success clears the username and gives back its IP unit.
_SUCCEEDED = r"""
redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 1 and redis.call('DECR', KEYS[2]) <= 0 then
  redis.call('DEL', KEYS[2])
end
return 0
"""


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """One admitted login attempt; report its outcome with :meth:`LoginThrottle.succeeded`."""

    user_key: str
    ip_key: str


class LoginThrottle:
    """Per-username and per-IP limits on failed logins (see the module docstring)."""

    def __init__(
        self, client: redis.Redis, *, namespace: str, settings: LoginThrottleSettings
    ) -> None:
        self._settings = settings
        self._ns = namespace
        self._admit = client.register_script(_ADMIT)
        self._succeeded = client.register_script(_SUCCEEDED)

    def admit(self, username: str, ip: str) -> LoginAttempt | int:
        """Count an attempt and return it, or the seconds to wait (≥ 1) when over a limit.

        A refused attempt is not counted, so retrying while refused does not prolong the wait.
        """
        digest = hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()
        attempt = LoginAttempt(f"{self._ns}:login:user:{digest}", f"{self._ns}:login:ip:{ip}")
        s = self._settings
        wait_ms = int(
            self._admit(
                keys=[attempt.user_key, attempt.ip_key],
                args=[s.window_seconds * 1000, s.max_failures, s.max_failures_per_ip],
            )
        )
        if wait_ms > 0:
            return max(1, math.ceil(wait_ms / 1000))
        return attempt

    def succeeded(self, attempt: LoginAttempt) -> None:
        """The attempt logged in: clear its username's failures and uncount it for its IP."""
        self._succeeded(keys=[attempt.user_key, attempt.ip_key])
