"""``worker --hooks module:obj``: the ``yotaq.Hook`` objects a worker started from the command line is given."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from ..current import Hook
from ..exceptions import ConfigurationError, describe


def load_hooks(specs: Sequence[str]) -> list[Hook]:
    """One hook per ``module:obj`` spec, in order: ``obj`` (a dotted name in ``module``) is a ``Hook``, or
    a class or function that, called with no arguments, returns one.

    Raises:
        ConfigurationError: a spec is malformed, cannot be imported, or does not give a ``Hook``.
    """
    return [_load(spec) for spec in specs]


def _load(spec: str) -> Hook:
    module_name, _, path = spec.partition(":")
    if not module_name or not path:
        raise ConfigurationError(f"--hooks {spec!r}: expected module:obj, as in myapp.tracing:TracingHook")
    try:
        found: object = importlib.import_module(module_name)
    except Exception as exc:  # whatever the module raises on import is what its author must see
        raise ConfigurationError(f"--hooks {spec!r}: cannot import {module_name!r}: {describe(exc)}") from None
    for name in path.split("."):
        if not hasattr(found, name):
            raise ConfigurationError(f"--hooks {spec!r}: {module_name!r} has no {path!r}")
        found = getattr(found, name)
    if isinstance(found, Hook):
        return found
    if not callable(found):
        raise ConfigurationError(f"--hooks {spec!r}: {path!r} is neither a yotaq.Hook nor a callable returning one")
    try:
        made = found()
    except Exception as exc:
        raise ConfigurationError(f"--hooks {spec!r}: calling {path!r} raised {describe(exc)}") from None
    if not isinstance(made, Hook):
        raise ConfigurationError(f"--hooks {spec!r}: {path!r}() returned {type(made).__name__}, not a yotaq.Hook")
    return made
