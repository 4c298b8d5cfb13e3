--[[
  One page of a sorted set, highest score first, each member with its value in each of some hashes: a
  listing of jobs by state for dashboards (a read: nothing changes).
  KEYS[1] zset: the sorted set (of job ids)   KEYS[1 + i] the i-th hash of those job ids to something kept of them
  ARGV[1] the lowest score listed, as ZRANGEBYSCORE takes it ('(<ms>': those not expired at <ms>; '-inf': all)
  ARGV[2] how many members to skip   ARGV[3] how many at most
  Returns: {how many members score from ARGV[1] up, {member, score, value in each hash (false where
  absent), ...}}
]]
local members = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', ARGV[1], 'WITHSCORES', 'LIMIT', ARGV[2], ARGV[3])
local ids = {}
for i = 1, #members, 2 do
  ids[#ids + 1] = members[i]
end
local values = {}
for k = 2, #KEYS do
  values[k] = #ids > 0 and redis.call('HMGET', KEYS[k], unpack(ids)) or {}
end
local page = {}
for n, id in ipairs(ids) do
  page[#page + 1] = id
  page[#page + 1] = members[2 * n]
  for k = 2, #KEYS do
    page[#page + 1] = values[k][n]
  end
end
return {redis.call('ZCOUNT', KEYS[1], ARGV[1], '+inf'), page}
