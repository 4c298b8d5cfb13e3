-- The lines of `text`, each followed by a newline (an empty line is an empty string): how a script is
-- given one string per job in a single argument.
local function lines(text)
  local found = {}
  for line in string.gmatch(text, '([^\n]*)\n') do
    found[#found + 1] = line
  end
  return found
end
