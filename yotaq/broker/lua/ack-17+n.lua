--[[
  Acknowledge tasks that ran to completion, then lease up to ARGV[3] more: one round trip
  between two batches. An acknowledged task leaves this worker's active list for good, its
  result is stored (waking anyone waiting for it) and it is no longer pending or active. Leased
  tasks move from the head of the pending list to the tail of the active list, in order, and
  are marked active; a cancelled one is dropped on the way, one over its limit waits (see
  include/limits.lua). An acknowledged task's slot, if it held one, goes to the next waiting.
  KEYS[1] active(worker) list   KEYS[2] pending list   KEYS[3] state hash
  KEYS[4] deliveries hash       KEYS[5] stats hash
  KEYS[6] holders sorted set    KEYS[7] waiting sorted set   KEYS[8] waiting_messages hash
  KEYS[9] rates hash            KEYS[10] scheduled sorted set   KEYS[11] scheduled_messages hash
  KEYS[12] series hash (field: second % 3600; value: '<second> <tasks done> <their ms>')
  KEYS[13] marker sorted set (a job its rate defers is due at its score)
  KEYS[14] finished(done) sorted set   KEYS[15] finished(cancelled) sorted set
  KEYS[16] finished_jobs hash (see include/finished.lua)   KEYS[17] flows hash
  KEYS[17 + i] the result(job_id) list of the i-th job acknowledged (n: how many are acknowledged)
  KEYS[18 + n...] the keys of each job's part in a workflow, in order, as the caller believes it
  (include/flows.lua: flow_part)
  ARGV[1] the job ids acknowledged, space separated, in the order they were leased
  ARGV[2] their result TTLs (ms), space separated
  ARGV[3] how many tasks to lease (0 for none)
  ARGV[4] how long the acknowledged tasks ran, in all (ms)
  ARGV[5] what is shown of each once done, in order, each followed by a newline: '<worker> <ran ms> <function>'
  ARGV[6] what the caller believes of each job's part in a workflow, in order, each followed by a newline
  ('' for none)
  ARGV[6 + i] the result envelope of the i-th job acknowledged
  The broker sends at most 1,000 acknowledgements and asks for at most 1,000 leases per call
  (ACK_CHUNK): unpack() below holds about 8,000 values.
  A leased message whose job is not pending on this queue (a copy of a job that already ran or is
  running, or a message not enqueued through yotaq) is leased all the same, for the worker to set
  aside unrun, and reported.
  Returns: {the positions (1-based) of the jobs no longer leased by this worker (reaped and given
  to another worker: nothing changes for those), the messages leased, oldest first, the positions
  among them of those whose job is not pending, the positions of the jobs acknowledged before
  with this very outcome (an earlier call went through but its reply was lost: nothing changes),
  the jobs whose dependents are not as the caller believes: {position, their flows field, ...} (when
  there are any, nothing at all changes, nothing is leased: the caller calls again)}
]]
--@include now_ms
--@include job_id
--@include slots
--@include limits
--@include over
--@include finished
--@include flows
--@include lines
local lim = {active = KEYS[1], pending = KEYS[2], state = KEYS[3], deliveries = KEYS[4], holders = KEYS[6],
  waiting = KEYS[7], waiting_messages = KEYS[8], rates = KEYS[9], scheduled = KEYS[10], scheduled_messages = KEYS[11],
  marker = KEYS[13]}

-- Count `done` tasks that ran `ms` in all into the series, for dashboards, in the field of the second
-- (field second % 3600, value '<second> <done> <ms>') and of the minute (field 'm<minute % 1440>', value
-- 'm<minute> <done> <ms>'): one HMGET and one HSET. A field is reused an hour (a day) later, so the hash
-- holds 5,040 at most.
local function count_in(series, second, done, ms)
  local minute = math.floor(second / 60)
  local fields = {second % 3600, 'm' .. (minute % 1440)}
  local values = redis.call('HMGET', series, fields[1], fields[2])
  local counted = {}
  for k, at in ipairs({second, minute}) do
    local mark = k == 1 and '' or 'm'
    local seen, count, sum = string.match(values[k] or '', '^' .. mark .. '(%d+) (%d+) (%d+)$')
    if tonumber(seen) ~= at then
      count, sum = 0, 0
    end
    counted[#counted + 1] = fields[k]
    counted[#counted + 1] = mark .. at .. ' ' .. (count + done) .. ' ' .. (sum + ms)
  end
  redis.call('HSET', series, unpack(counted))
end
local ids, ttls = {}, {}
for id in string.gmatch(ARGV[1], '%S+') do
  ids[#ids + 1] = id
end
for ttl in string.gmatch(ARGV[2], '%S+') do
  ttls[#ttls + 1] = ttl
end
-- Workflows first, before anything changes: one HMGET for the whole batch tells which jobs have
-- dependents waiting, and whether the caller passed their keys.
local beliefs = lines(ARGV[6])
local parts, wrong = check_beliefs(KEYS[17], ids, beliefs, 18 + #ids)
if #wrong > 0 then
  return {{}, {}, {}, {}, wrong}
end
-- Tasks finish in the order they were leased, so those acknowledged are usually the head of the
-- active list, in order: one LRANGE checks that, by the job ids in the messages' headers (so no
-- message travels back), and one LTRIM drops them. Any other is looked for in the rest, by an
-- index of it made once, and overwritten with '' (no message is empty) for one LREM to drop all:
-- thousands of coroutines finish in any order, and a search of the list for each would not end.
local lost, done, already = {}, {}, {}
if #ids > 0 then
  local head = redis.call('LRANGE', KEYS[1], 0, #ids - 1)
  local in_order = 0
  while in_order < #head and job_id(head[in_order + 1]) == ids[in_order + 1] do
    in_order = in_order + 1
  end
  if in_order > 0 then
    redis.call('LTRIM', KEYS[1], in_order, -1)
  end
  local rest = in_order < #ids and redis.call('LRANGE', KEYS[1], 0, -1) or {}
  local where = {} -- job id -> the positions of its messages in rest, first first
  for j = #rest, 1, -1 do
    local id = job_id(rest[j])
    if id then
      where[id] = {j, where[id]}
    end
  end
  local dropped = false
  for i = 1, #ids do
    local found = i <= in_order and head[i]
    local at = not found and where[ids[i]]
    if at then
      where[ids[i]], found, dropped = at[2], rest[at[1]], true
      redis.call('LSET', KEYS[1], at[1] - 1, '')
    end
    if found then
      done[#done + 1] = i
      free_slot(lim, found)
    elseif redis.call('HEXISTS', KEYS[3], ids[i]) == 0 and redis.call('LINDEX', KEYS[17 + i], 0) == ARGV[6 + i] then
      already[#already + 1] = i
    else
      lost[#lost + 1] = i
    end
  end
  if dropped then
    redis.call('LREM', KEYS[1], 0, '')
  end
end
-- Each command is paid for once per call where it can be: one DEL, HDEL and HINCRBY for the whole
-- batch; only a result's RPUSH and PEXPIRE are one per job.
if #done > 0 then
  local done_ids, result_keys, envelopes, done_ttls, done_parts = {}, {}, {}, {}, {}
  for k, i in ipairs(done) do
    done_ids[k], result_keys[k], envelopes[k], done_ttls[k] = ids[i], KEYS[17 + i], ARGV[6 + i], ttls[i]
    done_parts[k] = parts[i]
  end
  store_results(result_keys, envelopes, done_ttls)
  forget_jobs(lim, done_ids)
  redis.call('HINCRBY', KEYS[5], 'done', #done_ids)
  local now = now_ms()
  fan_in(done_parts, done_ids, envelopes, 'done', done_ttls, now)
  count_in(KEYS[12], math.floor(now / 1000), #done_ids, tonumber(ARGV[4]))
  local expiries, shown, all_shown = {}, {}, lines(ARGV[5])
  for k, i in ipairs(done) do
    expiries[k], shown[k] = now + tonumber(ttls[i]), all_shown[i]
  end
  list_finished({done = KEYS[14], cancelled = KEYS[15], jobs = KEYS[16]}, 'done', done_ids, expiries, shown, now)
end
-- One LMOVE each rather than LPOP and RPUSH: the append-only file and replicas get the moves,
-- not the messages. Their jobs' states are read with one HMGET and those plainly pending marked
-- active with one HSET; a job with a limit, or not pending, takes the long way (include/limits.lua).
local moved = {}
for _ = 1, tonumber(ARGV[3]) do
  local message = redis.call('LMOVE', KEYS[2], KEYS[1], 'LEFT', 'RIGHT')
  if not message then
    break
  end
  moved[#moved + 1] = message
end
local messages, unknown, moved_ids, activated, seen = {}, {}, {}, {}, {}
for i, message in ipairs(moved) do
  moved_ids[i] = job_id(message) or ''
end
local states = #moved > 0 and redis.call('HMGET', KEYS[3], unpack(moved_ids)) or {}
for i, message in ipairs(moved) do
  local id, known = moved_ids[i], nil
  if seen[id] then
    known = false -- another copy of a job leased a moment ago, in this very batch
  elseif states[i] == 'pending' and limit_of(message) == nil then
    known = true
    activated[#activated + 1] = id
    activated[#activated + 1] = 'active'
  else
    known = leased(lim, message)
  end
  if known ~= nil then
    messages[#messages + 1] = message
    if known then
      seen[id] = true
    else
      unknown[#unknown + 1] = #messages
    end
  end
end
if #activated > 0 then
  redis.call('HSET', KEYS[3], unpack(activated))
end
return {lost, messages, unknown, already, {}}
