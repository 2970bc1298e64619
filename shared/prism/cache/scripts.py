"""The Lua scripts that make every version-guarded write atomic (DESIGN invariant 3).

Each script touches one key, so it also runs on a cluster-mode Redis. Versions arrive as decimal strings and
are compared as such (length first, then bytes), which is exact for any size; Lua's numbers are doubles and
would not be. An entry without a readable version (``A``, or anything foreign) counts as older than all.
"""

from __future__ import annotations

from typing import Final

_ENTRY_VERSION: Final = """
local function is_older(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end

local function entry_version(entry)
  local kind = string.sub(entry, 1, 1)
  local version
  if kind == 'B' then
    local separator = string.find(entry, ':', 2, true)
    if not separator then return kind, '' end
    version = string.sub(entry, 2, separator - 1)
  else
    version = string.sub(entry, 2)
  end
  if not string.match(version, '^%d+$') then return kind, '' end
  return kind, version
end
"""

FILL: Final = (
    _ENTRY_VERSION
    + """
-- KEYS[1] entry; ARGV[1] version w; ARGV[2] encoded body entry; ARGV[3] ttl in ms.
-- Stores the body unless the entry is a body at >= w or a fence at > w. Returns 1 if stored.
local current = redis.call('GET', KEYS[1])
if current then
  local kind, version = entry_version(current)
  if kind == 'B' and not is_older(version, ARGV[1]) then return 0 end
  if (kind == 'F' or kind == 'D') and is_older(ARGV[1], version) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""
)

FENCE: Final = (
    _ENTRY_VERSION
    + """
-- KEYS[1] entry; ARGV[1] version v; ARGV[2] encoded fence entry; ARGV[3] ttl in ms.
-- Replaces an entry older than v (body, fence or absence) with the fence; leaves one at >= v alone.
-- Returns 1 if the fence was set.
local current = redis.call('GET', KEYS[1])
if current then
  local _, version = entry_version(current)
  if not is_older(version, ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""
)

RELEASE_LOCK: Final = """
-- KEYS[1] lock; ARGV[1] the holder's token. Deletes the lock only if this holder still owns it.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
