-- The members of sorted set `zset` scored from `min` to `max` (ZRANGEBYSCORE's bounds), each with its score
-- and its value in `hash`: {member, score, value, ...}, lowest score first, at most `limit` when given. A member
-- without a value (its hash field gone) is left out.
local function scored(zset, hash, min, max, limit)
  local members = limit and redis.call('ZRANGEBYSCORE', zset, min, max, 'WITHSCORES', 'LIMIT', 0, limit)
    or redis.call('ZRANGEBYSCORE', zset, min, max, 'WITHSCORES')
  local found = {}
  for i = 1, #members, 2 do
    local value = redis.call('HGET', hash, members[i])
    if value then
      found[#found + 1] = members[i]
      found[#found + 1] = members[i + 1]
      found[#found + 1] = value
    end
  end
  return found
end
