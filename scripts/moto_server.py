#!/usr/bin/env python3
"""moto_server with runtime fixes for Step Functions bugs in moto 5.2.5.

    .venv/bin/python scripts/moto_server.py -H 127.0.0.1 -p 4566   # same CLI as moto_server

scripts/moto-up.sh runs this instead of .venv/bin/moto_server. It patches moto in memory
(nothing in .venv is changed), then starts the server exactly as the moto_server entry point
does (moto.server.main). Without these patches no schedule of statemachines/scheduler.asl.json
can succeed on moto; see docs/LOCAL-RESEARCH.md, section 4 and "Patches applied by
scripts/moto_server.py".

The patches reach into moto internals, so they are tied to one moto version: the launcher
refuses to start (exit 2, message on stderr) if moto is not exactly PINNED_MOTO_VERSION or if
anything it patches is missing. When moto is upgraded, check each bug against the new version
and drop the patches that are fixed upstream.
"""

import datetime
import math
import re
import sys

PINNED_MOTO_VERSION = "5.2.5"  # keep in step with requirements-dev.txt


def fail(message: str) -> None:
    sys.stderr.write(f"moto_server.py: {message}\n")
    sys.exit(2)


def require(obj: object, *names: str) -> None:
    """Fail loudly unless obj has every attribute in names (moto internals moved)."""
    for name in names:
        if not hasattr(obj, name):
            fail(
                f"{getattr(obj, '__name__', obj)!r} has no attribute {name!r}: moto's internals "
                "changed, re-check the patches in scripts/moto_server.py"
            )


try:
    import moto
except ImportError as err:
    fail(f"cannot import moto ({err}); run 'make deps' (requirements-dev.txt pins moto[server])")

if moto.__version__ != PINNED_MOTO_VERSION:
    fail(
        f"these patches are written for moto {PINNED_MOTO_VERSION}, found {moto.__version__}; "
        "re-check each patch against the new version before changing PINNED_MOTO_VERSION"
    )

from moto.server import main  # noqa: E402  (after the version check, on purpose)
from moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_operator_type import (  # noqa: E402
    ComparisonOperatorType,
)
from moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations import (  # noqa: E402
    boolean_equals,
    is_operator,
    numeric,
    string_operators,
    timestamp_operators,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function import (  # noqa: E402
    timestamp as wait_timestamp,
)
from moto.stepfunctions.parser.asl.utils.json_path import extract_json  # noqa: E402
from moto.stepfunctions.parser.backend.execution import Execution  # noqa: E402

# RFC 3339 date-time as Step Functions accepts it: uppercase T, optional fraction, and Z or a
# numeric offset (uppercase Z; AWS documents that "Z" must be uppercase).
RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
)


def parse_rfc3339(timestamp: object) -> datetime.datetime | None:
    """Timezone-aware datetime for an RFC 3339 string, None for anything else.

    The parameter is named like moto's Wait Timestamp._from_timestamp_string's, which moto
    calls with timestamp=...; IsTimestamp.string_to_timestamp is called positionally."""
    if not isinstance(timestamp, str) or not RFC3339.match(timestamp):
        return None
    try:
        # Python 3.11's fromisoformat reads Z, offsets and fractions of any length.
        return datetime.datetime.fromisoformat(timestamp)
    except ValueError:  # e.g. month 13
        return None


# --- Patch 1: $$.Execution.StartTime is a datetime, not a string -----------------------------
# moto bug: Execution.get_start_execution_details passes start_date (a datetime) as
# ExecutionDetails.start_time, which becomes $$.Execution.StartTime. Using it in a task's
# Parameters fails with "Object of type datetime is not JSON serializable", in a Pass state it
# makes DescribeExecution return HTTP 500, and it cannot be compared as a timestamp.
# AWS: $$.Execution.StartTime is a string in UTC with milliseconds, "2026-11-23T12:11:18.037Z".
require(Execution, "get_start_execution_details")
_original_get_start_execution_details = Execution.get_start_execution_details


def get_start_execution_details(self):
    details = _original_get_start_execution_details(self)
    start = details.start_time
    if not isinstance(start, datetime.datetime):
        raise RuntimeError(
            f"moto_server.py: expected ExecutionDetails.start_time to be a datetime, got {start!r}; "
            "re-check patch 1"
        )
    start = start.astimezone(datetime.timezone.utc)  # moto's start_date is aware UTC already
    details.start_time = start.strftime("%Y-%m-%dT%H:%M:%S.") + f"{start.microsecond // 1000:03d}Z"
    return details


Execution.get_start_execution_details = get_start_execution_details


# --- Patch 2: IsTimestamp and the Timestamp* comparisons only read YYYY-MM-DDTHH:MM:SSZ ------
# moto bug: IsTimestamp.string_to_timestamp uses strptime("%Y-%m-%dT%H:%M:%SZ"), so
# "...:00.500Z", "+00:00" and "+02:00" are "not a timestamp", and the Timestamp* comparison
# operators (which parse both sides with the same function) cannot compare them.
# AWS: timestamps are RFC 3339 (fraction and numeric offsets allowed), compared as instants.
IsTimestamp = is_operator.IsTimestamp
require(IsTimestamp, "string_to_timestamp", "is_timestamp")
IsTimestamp.string_to_timestamp = staticmethod(parse_rfc3339)


# --- Patch 3: the Wait state's Timestamp/TimestampPath --------------------------------------
# moto bugs (wait_function/timestamp.py): its own parser accepts only a trailing "Z", so a
# sendAt with "+00:00" that passed IsTimestamp then fails the execution with States.Runtime
# in WaitUntilSendAt; the wait is `int(timestamp - datetime.now())` with a naive *local*
# now (wrong unless TZ=UTC), and the fraction and the int() truncation make it end up to
# 1 s *before* the timestamp.
# AWS: any RFC 3339 timestamp, and the state never ends before it.
# Here: parse with parse_rfc3339, compare with an aware UTC now, round the wait up.
WaitTimestamp = wait_timestamp.Timestamp
require(WaitTimestamp, "_from_timestamp_string", "_get_wait_seconds", "_create_failure_event")
require(wait_timestamp, "FailureEventException")
WaitTimestamp._from_timestamp_string = staticmethod(parse_rfc3339)


def wait_seconds_until_timestamp(self, env) -> int:
    # moto's Timestamp._get_wait_seconds, with the aware now and math.ceil.
    self.string.eval(env=env)
    timestamp_str = env.stack.pop()
    timestamp = self._from_timestamp_string(timestamp=timestamp_str)
    if timestamp is None:
        raise wait_timestamp.FailureEventException(self._create_failure_event(env, timestamp_str))
    now = datetime.datetime.now(datetime.timezone.utc)
    return math.ceil((timestamp - now).total_seconds())


WaitTimestamp._get_wait_seconds = wait_seconds_until_timestamp


# --- Patch 4: *Path comparisons cannot read the context object ($$.) -------------------------
# moto bug: every *Path comparison operator (TimestampLessThanPath, StringEqualsPath, ...)
# evaluates its path with extract_json against the state input, so "$$.Execution.StartTime"
# fails with States.Runtime JsonPathParserError "Parse error at 1:1 near token $ ($)".
# AWS: a path starting with "$$." is read from the context object.
# Paths starting with a single "$" still go to moto's own implementation.
def _boolean_equals_path_compare(variable, comp_value):
    # Same rule as moto's BooleanEqualsPath.eval, which has no separate _compare.
    if not isinstance(comp_value, bool):
        raise TypeError(f"Expected type bool, but got '{comp_value}'.")
    return isinstance(variable, bool) and variable is comp_value


def context_aware_path_eval(original_eval, compare):
    def eval(env, value):
        if not (isinstance(value, str) and value.startswith("$$")):
            return original_eval(env, value)
        variable = env.stack.pop()
        context = env.states.context_object.context_object_data
        env.stack.append(compare(variable, extract_json(value[1:], context)))

    return staticmethod(eval)


_operator_modules = (boolean_equals, numeric, string_operators, timestamp_operators)
_path_operator_names = [n for n in ComparisonOperatorType.__members__ if n.endswith("Path")]
if len(_path_operator_names) != 16:
    fail(f"expected 16 *Path comparison operators, moto has {len(_path_operator_names)}: re-check patch 4")
for _name in _path_operator_names:
    _classes = [getattr(m, _name) for m in _operator_modules if hasattr(m, _name)]
    if len(_classes) != 1:
        fail(f"comparison operator class {_name} not found exactly once: re-check patch 4")
    _cls = _classes[0]
    if _name == "BooleanEqualsPath":
        _compare = _boolean_equals_path_compare
    else:
        require(_cls, "_compare")
        _compare = _cls._compare
    require(_cls, "eval")
    _cls.eval = context_aware_path_eval(_cls.eval, _compare)


if __name__ == "__main__":
    # What the moto_server console script does (.venv/bin/moto_server).
    sys.exit(main())
