--[[
  Enqueue the jobs of a workflow at once: a chain, a chord, a group, or one job that depends on
  others (depends_on). A job without parents goes on its queue (pending, or scheduled for its time);
  one with parents is parked as a dependent (include/flows.lua): state 'waiting', its record holding
  its message, and its id added to the dependents of each parent not finished. A parent already
  finished counts at once with its outcome; when none is left to wait for, or one failed and the
  dependent does not allow failures, the dependent is enqueued here.
  Each enqueue carries a token of its own, kept a while: a try again after a lost reply finds it and
  changes nothing but the token's time.
  KEYS[1] enqueued(job_id): the enqueue token (of the first job)
  KEYS[1 + 6(g - 1) + 1..6] the g-th queue's pending list, state hash, scheduled sorted set,
  scheduled_messages hash, marker sorted set and flows hash (G queues: a job's queue, or shard, is one
  of them); then for each job, in order: its result(job_id) list, and for one with parents its
  flow(job_id) record and its parents(job_id) outcomes; then for each parent not enqueued here, in
  order: its result(job_id) list
  ARGV[1] the workflow, as JSON: {groups = G, jobs = {{g = its queue, id, tok = its queue's token,
  unique = 0|1 (a job id of the caller's choosing), at = run at (ms since the epoch) or -1, delay = ms
  from when it is enqueued (its parents over, or now) or -1, parents = {n > 0: the n-th job here; n < 0: the -n-th parent not
  enqueued here}, allow = 0|1 (runs even after a parent failed), feed = 'chain'|'chord'|'', ttl = its
  result TTL (ms)}...}, ext = {{g, id, tok}...}}
  ARGV[2] this enqueue's token   ARGV[3] how long the token is kept (ms)   ARGV[3 + j] the j-th job's message
  Returns: {'ok'}; {'exists', id} when a job id of the caller's choosing is taken by a job not finished
  (nothing changes); {'unknown', id} when a parent is neither waiting, pending, scheduled nor running
  and has no outcome kept (never enqueued, or expired: nothing changes).
]]
--@include now_ms
--@include queue
--@include flows
if redis.call('GET', KEYS[1]) == ARGV[2] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'ok'}
end
local spec = cjson.decode(ARGV[1])
local function group(g)
  local at = 1 + 6 * (g - 1)
  return {pending = KEYS[at + 1], state = KEYS[at + 2], scheduled = KEYS[at + 3], scheduled_messages = KEYS[at + 4],
    marker = KEYS[at + 5], flows = KEYS[at + 6]}
end
local LIVE = {pending = true, scheduled = true, active = true, waiting = true}
local at = 2 + 6 * spec.groups
local jobs = {}
for j, job in ipairs(spec.jobs) do
  local q = group(job.g)
  if job.unique == 1 and redis.call('HGET', q.state, job.id) then
    return {'exists', job.id}
  end
  jobs[j] = {id = job.id, q = q, result = KEYS[at]}
  at = at + 1
  if #job.parents > 0 then
    jobs[j].record, jobs[j].parents = KEYS[at], KEYS[at + 1]
    at = at + 2
  end
end
local outside = {}
for e, parent in ipairs(spec.ext) do
  local q = group(parent.g)
  local state = redis.call('HGET', q.state, parent.id)
  local envelope = not LIVE[state] and redis.call('LINDEX', KEYS[at], 0)
  if not LIVE[state] and not envelope then
    return {'unknown', parent.id}
  end
  outside[e] = {id = parent.id, q = q, envelope = envelope}
  at = at + 1
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
local now = now_ms()
-- What goes in a hash or a list many times over (the members of a chord of thousands) is written
-- a chunk at a time; a dependent of a parent already there is added to what that parent has.
local writes, order = {}, {}
local function later(command, key, ...)
  local id = command .. '\0' .. key
  if not writes[id] then
    writes[id] = {command = command, key = key, values = {}}
    order[#order + 1] = id
  end
  local values = writes[id].values
  for _, value in ipairs({...}) do
    values[#values + 1] = value
  end
end
local added, parents_of = {}, {}
local function depend(q, parent, pair, existing)
  if existing then
    local before = redis.call('HGET', q.flows, parent)
    redis.call('HSET', q.flows, parent, before and (before .. ' ' .. pair) or pair)
  else
    local id = q.flows .. '\0' .. parent
    if not added[id] then
      parents_of[#parents_of + 1] = {q.flows, parent, id}
    end
    added[id] = added[id] and (added[id] .. ' ' .. pair) or pair
  end
end
for j, job in ipairs(spec.jobs) do
  local mine = jobs[j]
  if job.unique == 1 then
    redis.call('DEL', mine.result)
  end
  if #job.parents == 0 then
    if job.at >= 0 or job.delay >= 0 then
      schedule_job(mine.q, job.id, ARGV[3 + j], job.at >= 0 and job.at or now + job.delay)
    else
      later('RPUSH', mine.q.pending, ARGV[3 + j])
      later('HSET', mine.q.state, job.id, 'pending')
    end
  else
    local waiting, doomed, names = 0, false, {}
    for _, ref in ipairs(job.parents) do
      local pair = job.tok .. ' ' .. job.id
      if ref > 0 then
        local parent = spec.jobs[ref]
        names[#names + 1] = parent.tok .. ' ' .. parent.id
        depend(jobs[ref].q, parent.id, pair, false)
        waiting = waiting + 1
      else
        local parent = outside[-ref]
        names[#names + 1] = spec.ext[-ref].tok .. ' ' .. parent.id
        if parent.envelope then
          redis.call('HSETNX', mine.parents, parent.id, parent.envelope)
          doomed = doomed or (string.match(parent.envelope, '^%S+ (%S+)') ~= 'done' and job.allow ~= 1)
        else
          depend(parent.q, parent.id, pair, true)
          waiting = waiting + 1
        end
      end
    end
    redis.call('HSET', mine.record, 'message', ARGV[3 + j], 'waiting', waiting, 'parents', table.concat(names, ' '),
      'allow', job.allow == 1 and '1' or '', 'feed', job.feed, 'ttl', job.ttl, 'at', job.at >= 0 and job.at or '',
      'delay', job.delay >= 0 and job.delay or '')
    redis.call('HSET', mine.q.state, job.id, 'waiting')
    if waiting == 0 or doomed then
      enqueue_dependent({id = job.id, record = mine.record, pending = mine.q.pending, state = mine.q.state,
        scheduled = mine.q.scheduled, scheduled_messages = mine.q.scheduled_messages, marker = mine.q.marker},
        doomed, now)
    end
  end
end
for _, parent in ipairs(parents_of) do
  later('HSET', parent[1], parent[2], added[parent[3]])
end
for _, id in ipairs(order) do
  local write = writes[id]
  for first = 1, #write.values, 1000 do
    redis.call(write.command, write.key, unpack(write.values, first, math.min(first + 999, #write.values)))
  end
end
return {'ok'}
