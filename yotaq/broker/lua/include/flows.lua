--@include queue
-- Workflows. A dependent waits in Redis, parked: its record (a hash: its message, how many parents it
-- still waits for, ...) and its parents' outcomes (a hash: parent id -> result envelope, each written
-- once). A job that dependents wait for has a field in its queue's flows hash: its dependents, as
-- '<queue token> <job id>' pairs. The script that records a job's final outcome tells its dependents
-- (fan_in), in the same atomic step: a dependent whose parents are all over is enqueued, and so is one
-- whose parent failed (unless it allows failures): its worker then records it cancelled, naming that
-- parent, without running it.
-- The caller passes what it believes a job's dependents are, with their keys; a script first checks
-- that belief against the flows hash (check_beliefs), and changes nothing when it is wrong, returning
-- what the hash holds so that the caller can call again with the right keys.

-- A job's part of a script's KEYS, from `at` on, by what the caller believes ('<after> <dependents>':
-- after is '1' when the job is itself a dependent, whose own record and parents' outcomes are kept as
-- long as its result from now on). Returns the part and the index of the first key after it.
-- part: {after = bool, dependents = the pairs string, own = {record, parents} or nil, next = key or nil,
--        deps = {{id, record, parents, pending, state, scheduled, scheduled_messages, marker}, ...}}
local function flow_part(belief, at)
  local after, dependents = string.match(belief or '', '^(%d) ?(.*)$')
  local part = {after = after == '1', dependents = dependents or '', deps = {}}
  if part.after then
    part.own = {record = KEYS[at], parents = KEYS[at + 1]}
    at = at + 2
  end
  if part.dependents ~= '' then
    part.next = KEYS[at]
    at = at + 1
    for id in string.gmatch(part.dependents, '%S+ (%S+)') do
      part.deps[#part.deps + 1] = {id = id, record = KEYS[at], parents = KEYS[at + 1], pending = KEYS[at + 2],
        state = KEYS[at + 3], scheduled = KEYS[at + 4], scheduled_messages = KEYS[at + 5], marker = KEYS[at + 6]}
      at = at + 7
    end
  end
  return part, at
end

-- Check what the caller believes of the parts in a workflow of jobs `ids` (`beliefs[i]`, their keys from
-- KEYS[at] on, in order) against the flows hash, before anything changes. Returns the parts, each with
-- `flows` and `actual`, the job's field there (false when none: nobody waits for it, or they were told
-- already, when nothing is to be done), and the beliefs that do not hold, as {position, actual, ...}:
-- when there are any, the script changes nothing and returns those, for the caller to call again.
local function check_beliefs(flows, ids, beliefs, at)
  local parts, wrong = {}, {}
  local actuals = #ids > 0 and redis.call('HMGET', flows, unpack(ids)) or {}
  local plain = {after = false, dependents = '', deps = {}, flows = flows, actual = false} -- read only
  for i = 1, #ids do
    if (beliefs[i] or '') == '' and not actuals[i] then
      parts[i] = plain -- the usual job, in no workflow: no keys of its own, nothing to make
    else
      parts[i], at = flow_part(beliefs[i], at)
      parts[i].flows, parts[i].actual = flows, actuals[i]
    end
    if actuals[i] and actuals[i] ~= parts[i].dependents then
      wrong[#wrong + 1] = i
      wrong[#wrong + 1] = actuals[i]
    end
  end
  return parts, wrong
end

-- Enqueue a parked dependent, its parents over: pending, or scheduled when it has a time or a delay of its
-- own (from now on) and `now_too` is false. Nothing when it was enqueued or cancelled before.
local function enqueue_dependent(d, now_too, now)
  local message, at, delay = unpack(redis.call('HMGET', d.record, 'message', 'at', 'delay'))
  if not message then
    return
  end
  redis.call('HDEL', d.record, 'message')
  local run_at = tonumber(at) or (tonumber(delay) and now + tonumber(delay))
  if run_at and run_at > now and not now_too then
    schedule_job(d, d.id, message, run_at)
  else
    push_job(d, d.id, message)
  end
end

-- Tell jobs' dependents their final outcomes (`envelopes[i]` of `ids[i]`, all of `kind`: done, failed,
-- dead, cancelled), once per parent and dependent whatever the deliveries, and drop the jobs' fields in the
-- flows hash (nothing to tell for a job with none). A dependent told by several jobs at once (a chord's
-- members acknowledged together) counts them down in one step, and the fields go in one HDEL. Each job's
-- dependents are kept as long as its result (`ttls[i]` ms), for its page.
local function fan_in(parts, ids, envelopes, kind, ttls, now)
  local told, counts, over = {}, {}, {}
  for i, part in ipairs(parts) do
    if part.own then
      redis.call('PEXPIRE', part.own.record, ttls[i])
      redis.call('PEXPIRE', part.own.parents, ttls[i])
    end
    if part.actual then
      for _, d in ipairs(part.deps) do
        if redis.call('HSETNX', d.parents, ids[i], envelopes[i]) == 1 then
          if not counts[d.id] then
            told[#told + 1], counts[d.id] = d, 0
          end
          counts[d.id] = counts[d.id] + 1
        end
      end
      redis.call('SET', part.next, part.dependents, 'PX', ttls[i])
      over[#over + 1] = ids[i]
    end
  end
  for _, d in ipairs(told) do
    local left = redis.call('HINCRBY', d.record, 'waiting', -counts[d.id])
    if left < 0 then -- the dependent is long over and its record gone: leave nothing behind
      redis.call('DEL', d.record, d.parents)
    elseif left == 0 then
      enqueue_dependent(d, false, now)
    elseif kind ~= 'done' and redis.call('HGET', d.record, 'allow') ~= '1' then
      enqueue_dependent(d, true, now)
    end
  end
  if #over > 0 then
    redis.call('HDEL', parts[1].flows, unpack(over))
  end
end
