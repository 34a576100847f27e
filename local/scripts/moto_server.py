#!/usr/bin/env python3
"""moto_server with runtime fixes for moto 5.2.5 bugs (Step Functions, SQS, DynamoDB) and a
cheap way to read what platform endpoints received.

    .venv/bin/python local/scripts/moto_server.py -H 127.0.0.1 -p 4566   # same CLI as moto_server

local/scripts/moto-up.sh runs this instead of .venv/bin/moto_server. It patches moto in memory
(nothing in .venv is changed), then starts the server exactly as the moto_server entry point
does (moto.server.main). Without these patches no schedule of statemachines/scheduler.asl.json
can succeed on moto; see local/RESEARCH.md, section 4 and "Patches applied by
local/scripts/moto_server.py".

The patches reach into moto internals, so they are tied to one moto version: the launcher
refuses to start (exit 2, message on stderr) if moto is not exactly PINNED_MOTO_VERSION or if
anything it patches is missing. When moto is upgraded, check each bug against the new version
and drop the patches that are fixed upstream.
"""

import datetime
import functools
import json
import logging
import math
import re
import sys
import threading
import time
import urllib.parse

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
                "changed, re-check the patches in local/scripts/moto_server.py"
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

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from moto.core.models import botocore_stubber  # noqa: E402
from moto.dynamodb.models import DynamoDBBackend  # noqa: E402
from moto.dynamodb.models.table import Table as DynamoDBTable  # noqa: E402
from moto.iam.models import iam_backends  # noqa: E402
from moto.moto_server.werkzeug_app import DomainDispatcherApplication  # noqa: E402
from moto.server import main  # noqa: E402  (after the version check, on purpose)
from moto.settings import moto_server_port  # noqa: E402
from moto.sns.models import sns_backends  # noqa: E402
from moto.sqs import models as sqs_models  # noqa: E402
from moto.sqs import responses as sqs_responses  # noqa: E402
from moto.sqs.exceptions import ReceiptHandleIsInvalid  # noqa: E402
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds  # noqa: E402
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (  # noqa: E402
    state_task_service_sqs,
)
from moto.sts.models import sts_backends  # noqa: E402
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
from moto.stepfunctions.parser.asl.component.state.wait.wait_function import (  # noqa: E402
    wait_function as wait_function_module,
)
from moto.stepfunctions.parser.asl.component.common.path import result_path as sfn_result_path  # noqa: E402
from moto.stepfunctions.parser.asl.utils import json_path as sfn_json_path  # noqa: E402
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


# --- Patch 5: SQS SenderId is always AIDAIT2UOQQY3AUEKVGXU --------------------------------
# moto bug: every message gets the same SenderId (sqs/models.py DEFAULT_SENDER_ID), and its Step
# Functions integrations sign with the fixed access key "ak" instead of the execution role.
# AWS: SenderId is the sending principal, "AROA...:session" for an assumed role, and a state
# machine's sqs:sendMessage runs as the state machine's role. The sender trusts the
# scheduler's message attributes only from that role (docs/CONTRACTS.md), so without this fix
# no local push would be recognized as scheduled.
# Here: a request signed with temporary credentials of an assumed role (sts:AssumeRole, as the
# local Lambda host does for each function) gets that role's SenderId; the Step Functions SQS
# integration assumes the execution role and signs with it.
require(sqs_responses.SQSResponse, "send_message", "send_message_batch")
require(sqs_models.SQSBackend, "send_message")
require(state_task_service_sqs, "boto_client_for")
_request_sender = threading.local()


def sender_id_of(response) -> str | None:
    """The principal id of the access key that signed an SQS request, if an assumed role's."""
    access_key = response.get_access_key()
    account_id = response.current_account
    key = iam_backends[account_id]["aws"].access_keys.get(access_key)
    if key is None or not getattr(key, "role_arn", None):
        return None
    assumed = sts_backends[account_id]["aws"].get_assumed_role_from_access_key(access_key)
    return assumed.user_id if assumed else None


def with_sender_id(original):
    def action(self):
        _request_sender.id = sender_id_of(self)
        try:
            return original(self)
        finally:
            _request_sender.id = None

    return action


sqs_responses.SQSResponse.send_message = with_sender_id(sqs_responses.SQSResponse.send_message)
sqs_responses.SQSResponse.send_message_batch = with_sender_id(sqs_responses.SQSResponse.send_message_batch)
_original_backend_send_message = sqs_models.SQSBackend.send_message


def backend_send_message(self, *args, **kwargs):
    message = _original_backend_send_message(self, *args, **kwargs)
    sender = getattr(_request_sender, "id", None)
    if sender:
        message.sender_id = sender
    return message


sqs_models.SQSBackend.send_message = backend_send_message
_role_credentials: dict[str, tuple[str, str, str]] = {}
_role_credentials_lock = threading.Lock()


def role_credentials(role_arn: str, region: str) -> tuple[str, str, str]:
    """Temporary credentials of role_arn, assumed once (again after a reset of moto)."""
    account_id = role_arn.split(":")[4]
    creds = _role_credentials.get(role_arn)
    if creds is not None and creds[0] in iam_backends[account_id]["aws"].access_keys:
        return creds  # the usual case, without the lock
    with _role_credentials_lock:
        creds = _role_credentials.get(role_arn)
        if creds is None or creds[0] not in iam_backends[account_id]["aws"].access_keys:
            assumed = sts_backends[account_id]["aws"].assume_role(
                region_name=region, role_session_name="moto-states", role_arn=role_arn,
                policy="", duration=43200, external_id="",
            )
            creds = (assumed.access_key_id, assumed.secret_access_key, assumed.session_token)
            _role_credentials[role_arn] = creds
        return creds


_clients: dict[tuple, object] = {}


def boto_client_as_role(region: str, service: str, state_credentials=None):
    # moto's boto_client_for (stepfunctions/parser/asl/utils/boto_client.py), signing as the role.
    # One client per role, region and service, kept: moto builds a new one for every task,
    # which costs tens of milliseconds of the emulator's one core each (a thousand scheduled
    # pushes falling due together took it over a minute).
    role_arn = getattr(state_credentials, "role_arn", None)
    if not role_arn or not isinstance(role_arn, str) or role_arn.count(":") < 5:
        return _original_boto_client_for(region=region, service=service, state_credentials=state_credentials)
    key, secret, token = role_credentials(role_arn, region)
    client = _clients.get((key, region, service))
    if client is not None:
        return client
    with _role_credentials_lock:
        client = _clients.get((key, region, service))
        if client is None:
            client = _new_client(region, service, key, secret, token)
            _clients[(key, region, service)] = client
        return client


def _new_client(region, service, key, secret, token):
    kwargs = {}
    if not botocore_stubber.enabled:
        kwargs["endpoint_url"] = f"http://localhost:{moto_server_port()}"
    return boto3.client(
        aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token,
        region_name=region, service_name=service,
        config=Config(
            parameter_validation=False,
            retries={"max_attempts": 0, "total_max_attempts": 1},
            connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            max_pool_connections=64,
        ),
        **kwargs,
    )


_original_boto_client_for = state_task_service_sqs.boto_client_for
state_task_service_sqs.boto_client_for = boto_client_as_role


# --- Patch 6: DynamoDB conditional writes are not atomic -------------------------------------
# moto bug: a conditional write reads the item, checks the condition and writes, with no lock,
# while the server handles requests on many threads: two concurrent claims of one delivery
# can both succeed. AWS: each conditional write is atomic.
# Here: every DynamoDB write of every table goes through one lock. Throughput is not the point
# of the emulator; correctness of the claim logic under concurrency is.
_dynamodb_write_lock = threading.RLock()
for _name in ("put_item", "update_item", "delete_item", "transact_write_items"):
    require(DynamoDBBackend, _name)

    def _serialized(original):
        def write(self, *args, **kwargs):
            with _dynamodb_write_lock:
                return original(self, *args, **kwargs)

        return write

    setattr(DynamoDBBackend, _name, _serialized(getattr(DynamoDBBackend, _name)))


# --- Patch 7: Query sorts the whole table --------------------------------------------------
# moto bug (performance): Table.query on the table's own key builds and sorts the list of
# every item of the table (Table.all_items) and then keeps those with the hash key: each
# registry lookup costs O(n log n) in the table size, in Python, under the GIL. With a few
# thousand devices the emulator spends its time sorting, and every call waits on it.
# AWS: a Query reads one partition.
# Here: during a query without an index, all_items returns only the queried partition, which
# is all that moto's code keeps of it anyway (same items, same order).
require(DynamoDBTable, "query", "all_items")
_partition = threading.local()
_original_all_items = DynamoDBTable.all_items
_original_query = DynamoDBTable.query


def all_items(self):
    table, hash_key = getattr(_partition, "key", (None, None))
    if table is not self:
        return _original_all_items(self)
    bucket = self.items.get(hash_key)
    if bucket is None:
        return []
    items = list(bucket.values()) if self.range_key_attr else [bucket]
    return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)


def query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
          scan_index_forward, projection_expressions, index_name=None, *args, **kwargs):
    if index_name is None and hash_key is not None:
        _partition.key = (self, hash_key)
    try:
        return _original_query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                               scan_index_forward, projection_expressions, index_name, *args, **kwargs)
    finally:
        _partition.key = (None, None)


DynamoDBTable.all_items = all_items
DynamoDBTable.query = query


# --- Patch 10: every JSONPath evaluation builds a parser ----------------------------------
# moto bug (performance): the Step Functions interpreter evaluates a path with
# jsonpath_ng.ext.parse(path) each time (asl/utils/json_path.py extract_json), and each parse
# builds a new ply parser (yacc tables), tens of milliseconds of Python. A scheduled push
# evaluates a handful of paths; a thousand falling due together kept the emulator busy for
# minutes, and every other request waited behind them.
# Here: parsed paths are cached (they are immutable; find() does not change them).
require(sfn_json_path, "parse")
require(sfn_result_path, "parse")
sfn_json_path.parse = functools.lru_cache(maxsize=4096)(sfn_json_path.parse)
sfn_result_path.parse = functools.lru_cache(maxsize=4096)(sfn_result_path.parse)


# --- Patch 11: executions falling due together starve every other request --------------
# Not a wrong result but a stall: each Step Functions execution is a few Python threads, and
# a thousand scheduled pushes falling due at the same second make a thousand of them runnable
# at once. Python hands its one interpreter lock to each in turn, so a request of the sender
# waits seconds for each slice: its calls time out (30 s of stall seen), which in AWS would
# not happen. Here: after a Wait state ends, at most a few executions go on at a time; the
# others wait their turn, not runnable. The pushes are still all sent, later by the time the
# emulator needs (the load report shows it).
from moto.stepfunctions.parser.asl.component.program.program import Program  # noqa: E402

require(wait_function_module.WaitFunction, "_wait_interval")
require(Program, "_eval_body")
_awake_executions = threading.BoundedSemaphore(4)
_execution_turn = threading.local()
_original_wait_interval = wait_function_module.WaitFunction._wait_interval
_original_program_body = Program._eval_body


def wait_interval_then_queue(self, env, wait_seconds):
    _original_wait_interval(self, env, wait_seconds)
    if not getattr(_execution_turn, "held", False):
        _awake_executions.acquire()
        _execution_turn.held = True


def program_body_releasing_turn(self, env):
    try:
        return _original_program_body(self, env)
    finally:
        if getattr(_execution_turn, "held", False):
            _execution_turn.held = False
            _awake_executions.release()


wait_function_module.WaitFunction._wait_interval = wait_interval_then_queue
Program._eval_body = program_body_releasing_turn


# --- Patch 16: StopExecution is lost when it comes early -----------------------------------
# moto bug: Environment.set_stop (asl/eval/environment.py) acts only on a program already
# running, and ExecutionWorker.stop fails while the worker has no environment yet: a stop that
# comes while the execution's thread still parses the definition is dropped. And set_stop sets
# program_state_event and clears it at once, which wakes only a thread already in Event.wait:
# a stop that comes while the Wait state evaluates its Timestamp (the whole JSONata check
# since the scheduler has no Choice) is not seen, and WaitFunction._wait_interval sleeps the
# whole wait. Either way the execution stays RUNNING until its due time, then ends ABORTED.
# Seen: 4 of 20 executions stopped right after their start still RUNNING 40 s later (the
# examples, Cancel and Reschedule of the client, the API's PUT do just that).
# AWS: the execution is ABORTED as soon as StopExecution answers.
# Here: a stop that comes before the program runs is kept and applied when it starts; the Wait
# looks at the program state before and while it waits; a stopped execution does not queue for
# a turn (patch 11).
from moto.stepfunctions.parser.asl.eval.environment import Environment as SfnEnvironment  # noqa: E402
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker as SfnExecutionWorker  # noqa: E402

require(SfnEnvironment, "set_stop", "next_state_name", "is_running")
require(SfnExecutionWorker, "stop", "_get_evaluation_environment")
_early_stop_lock = threading.Lock()
_original_set_stop = SfnEnvironment.set_stop
_original_next_state_setter = SfnEnvironment.next_state_name.fset
_original_get_evaluation_environment = SfnExecutionWorker._get_evaluation_environment


def set_stop_even_before_start(self, stop_date, cause, error):
    with self._state_mutex:
        if self._program_state is None:
            self._delayed_push_early_stop = (stop_date, cause, error)
            return
    _original_set_stop(self, stop_date, cause, error)


def set_next_state_name_then_early_stop(self, name):
    _original_next_state_setter(self, name)
    early = getattr(self, "_delayed_push_early_stop", None)
    if early:
        self._delayed_push_early_stop = None
        _original_set_stop(self, *early)


def evaluation_environment_with_early_stop(self):
    env = _original_get_evaluation_environment(self)
    with _early_stop_lock:
        early = getattr(self, "_delayed_push_early_stop", None)
    if early:
        stop_date, error, cause = early
        env.set_stop(stop_date=stop_date, cause=cause, error=error)
    return env


def worker_stop(self, stop_date, error, cause):
    with _early_stop_lock:
        if self.env is None:
            self._delayed_push_early_stop = (stop_date, error, cause)
            return
    self.env.set_stop(stop_date=stop_date, cause=cause, error=error)


def wait_interval_unless_stopped(self, env, wait_seconds):
    deadline = time.time() + wait_seconds
    while env.is_running():
        left = deadline - time.time()
        if left <= 0:
            return
        env.program_state_event.wait(min(left, 0.5))


def wait_interval_then_queue_unless_stopped(self, env, wait_seconds):
    wait_interval_unless_stopped(self, env, wait_seconds)
    if env.is_running() and not getattr(_execution_turn, "held", False):
        _awake_executions.acquire()
        _execution_turn.held = True


SfnEnvironment.set_stop = set_stop_even_before_start
SfnEnvironment.next_state_name = property(SfnEnvironment.next_state_name.fget, set_next_state_name_then_early_stop)
SfnExecutionWorker._get_evaluation_environment = evaluation_environment_with_early_stop
SfnExecutionWorker.stop = worker_stop
wait_function_module.WaitFunction._wait_interval = wait_interval_then_queue_unless_stopped


# --- Patch 12: JSONata needs a Java virtual machine ------------------------------------------
# moto gap: its JSONata evaluator (asl/jsonata/jsonata.py, from LocalStack) calls the Java
# JSONata library through a JVM bridge that moto does not ship; in moto 5.2.5 the bridge is cut
# out and eval_jsonata_expression calls None, so every JSONata state fails ("'NoneType' object is
# not callable"). The scheduler checks its input in JSONata (statemachines/check-schedule.jsonata).
# Here: expressions are evaluated by jsonata-python (PyPI, pinned in requirements-dev.txt), a port
# of the reference implementation. The modules that imported the function by name get it too.
# Regex literals follow JavaScript's $ (the end of the input only, unless /m), as the reference
# implementation and AWS's do; Python's $ also matches before a final newline.
import jsonata as jsonata_python  # noqa: E402
from moto.stepfunctions.parser.asl.component.common.string import string_expression as sfn_string_expression  # noqa: E402
from moto.stepfunctions.parser.asl.jsonata import jsonata as sfn_jsonata  # noqa: E402
from moto.stepfunctions.parser.asl.jsonata import validations as sfn_jsonata_validations  # noqa: E402

require(sfn_jsonata, "eval_jsonata_expression", "JSONataException")
require(sfn_string_expression, "eval_jsonata_expression")
require(sfn_jsonata_validations, "eval_jsonata_expression")


def js_dollar(pattern: str) -> str:
    """A JavaScript regex's $ (no m flag) matches only at the end of the input; Python's also
    before a final newline, so "promo\n" would pass /^[a-z]+$/. Outside character classes, an
    unescaped $ becomes \\Z (the end, only)."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if ch == "[":
            in_class = True
        elif ch == "]":
            in_class = False
        out.append("\\Z" if ch == "$" and not in_class else ch)
        i += 1
    return "".join(out)


def js_regex_engine(pattern: str, flags):
    from jsonata.regex_engine import default_regex_engine
    return default_regex_engine(pattern if flags.multiline else js_dollar(pattern), flags)


def eval_jsonata_expression(expression: str):
    try:
        return jsonata_python.Jsonata(expression, js_regex_engine).evaluate(None)
    except Exception as ex:  # what moto's JVM bridge does: States.QueryEvaluationError follows
        raise sfn_jsonata.JSONataException("UNKNOWN", str(ex))


for _module in (sfn_jsonata, sfn_string_expression, sfn_jsonata_validations):
    _module.eval_jsonata_expression = eval_jsonata_expression


# --- Patch 19: JSONata's $string escapes every non-ASCII character --------------------------
# jsonata-python gap: $string of a value that is not a string (the check quotes values with
# $string([$s])) is Python's json.dumps with ensure_ascii on, so "promoé" reads "promo\u00e9";
# JavaScript's JSON.stringify, which AWS's JSONata uses, writes the character itself and
# escapes only controls and lone surrogates. Here: the same, so an error names a value as AWS's.
from jsonata import functions as jsonata_functions  # noqa: E402

require(jsonata_functions.Functions, "_string", "Encoder")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def jsonata_string(arg, prettify):
    from jsonata import jsonata as jsonata_module
    if isinstance(arg, (jsonata_module.Jsonata.JFunction, jsonata_functions.parser.Parser.Symbol)):
        return ""
    layout = {"indent": "  "} if prettify else {"separators": (",", ":")}
    out = json.dumps(arg, cls=jsonata_functions.Functions.Encoder, ensure_ascii=False, **layout)
    return _LONE_SURROGATE.sub(lambda m: "\\u%04x" % ord(m.group()), out)


jsonata_functions.Functions._string = staticmethod(jsonata_string)


# --- Patch 13: concurrent executions share one parser scope stack ------------------------
# moto bug: Preprocessor._query_language_per_scope (asl/parse/preprocessor.py) is a class
# attribute, one list shared by every Preprocessor. Each execution parses the definition on its
# own thread, so executions parsing at the same time push and pop each other's query-language
# scopes; with a JSONata state next to JSONPath ones (the scheduler's CheckSchedule), one of
# them fails with "Unsupported declaration in QueryLanguage=JSONPath block" in its thread, and
# the execution never runs on: its push is never sent. `make load` lost 968 of 1,000 scheduled
# pushes to it. AWS: no parsing state is shared. Here: each Preprocessor has its own list.
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor as SfnPreprocessor  # noqa: E402

require(SfnPreprocessor, "_query_language_per_scope")
_original_preprocessor_init = SfnPreprocessor.__init__


def preprocessor_init(self, *args, **kwargs):
    _original_preprocessor_init(self, *args, **kwargs)
    self._query_language_per_scope = []


SfnPreprocessor.__init__ = preprocessor_init


# --- Patch 15: a JSONata expression that raises is not States.QueryEvaluationError --------
# moto gap: an expression that fails (for example $error("...")) raises JSONataException out of
# StringJSONata._eval_body, which a Task turns into States.TaskFailed (retried as such) and other
# states into a bare runtime failure. AWS: a JSONata evaluation that fails is the error
# States.QueryEvaluationError, which Retry and Catch match by that name (it is catchable, unlike
# States.Runtime). The scheduler relies on it: a bad input raises in SendPush's arguments and is
# caught into the InvalidSchedule Fail state. Here: the failure becomes a failure event of that
# name, with the expression's message as the cause.
from moto.stepfunctions.parser.api import EvaluationFailedEventDetails as SfnEvaluationFailedEventDetails  # noqa: E402
from moto.stepfunctions.parser.api import HistoryEventType as SfnHistoryEventType  # noqa: E402
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (  # noqa: E402
    FailureEvent as SfnFailureEvent,
    FailureEventException as SfnFailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName as SfnStatesErrorName  # noqa: E402
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (  # noqa: E402
    StatesErrorNameType as SfnStatesErrorNameType,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails as SfnEventDetails  # noqa: E402

require(sfn_string_expression, "StringJSONata")
require(sfn_string_expression.StringJSONata, "_eval_body")
_original_string_jsonata_eval_body = sfn_string_expression.StringJSONata._eval_body


def string_jsonata_eval_body(self, env) -> None:
    try:
        _original_string_jsonata_eval_body(self, env)
    except sfn_jsonata.JSONataException as ex:
        error_name = SfnStatesErrorName(typ=SfnStatesErrorNameType.StatesQueryEvaluationError)
        raise SfnFailureEventException(failure_event=SfnFailureEvent(
            env=env,
            error_name=error_name,
            event_type=SfnHistoryEventType.EvaluationFailed,
            event_details=SfnEventDetails(evaluationFailedEventDetails=SfnEvaluationFailedEventDetails(
                error=error_name.error_name, cause=str(ex.details), state=env.next_state_name or "",
            )),
        )) from ex


sfn_string_expression.StringJSONata._eval_body = string_jsonata_eval_body


# --- Patch 14: SetEndpointAttributes does not change an endpoint's token -------------------
# moto bug: SNSBackend.set_endpoint_attributes (sns/models.py) updates the attributes dict, but
# CreatePlatformEndpoint finds an existing endpoint by PlatformEndpoint.token, which keeps the
# first token forever. After a token refresh (SetEndpointAttributes Token=NEW, AWS's documented
# flow), CreatePlatformEndpoint with the new token makes a second endpoint for the same device,
# and the old token still finds the refreshed one. AWS: the endpoint holds the new token only.
# Here: the token follows the attribute.
from moto.sns.models import SNSBackend  # noqa: E402

require(SNSBackend, "set_endpoint_attributes")
_original_set_endpoint_attributes = SNSBackend.set_endpoint_attributes


def set_endpoint_attributes(self, arn, attributes):
    endpoint = _original_set_endpoint_attributes(self, arn, attributes)
    if "Token" in attributes:
        endpoint.token = attributes["Token"]
    return endpoint


SNSBackend.set_endpoint_attributes = set_endpoint_attributes


# --- Patch 9: SQS is not thread-safe, and each call costs O(messages in the queue) ---------
# moto bugs: the server handles requests on many threads, but the SQS backend mutates its
# message list without a lock: Queue.delete_message rebuilds the list and assigns it, so a
# message sent meanwhile is lost; two receives can take the same message; moving a message to
# the dead-letter queue fails with "list.remove(x): x not in list". And every call is linear
# in the queue's size: SendMessage and each received message compute every queue attribute,
# counts included (three scans of the queue, each reading the clock through datetime
# objects per message), DeleteMessage scans the queue twice and copies it. A burst of
# thousands of pushes makes the emulator quadratic, and messages go missing.
# AWS: every operation is atomic and does not slow down with the queue's length.
# Here: every SQS operation runs under one lock (a long poll waits outside it, on moto's own
# condition); the clock is read with time.time(); the three approximate counts are computed
# at most once a second per queue (they are approximate in AWS too); DeleteMessage removes
# the one message in one pass.
require(sqs_models, "unix_time", "unix_time_millis", "Queue")
require(sqs_models.Queue, "delete_message", "wait_for_messages", "approximate_number_of_messages",
        "approximate_number_of_messages_delayed", "approximate_number_of_messages_not_visible")
require(sqs_models.SQSBackend, "receive_message", "send_message_batch", "delete_message", "delete_message_batch",
        "change_message_visibility", "change_message_visibility_batch", "purge_queue", "get_queue_attributes")
_original_unix_time = sqs_models.unix_time
_original_unix_time_millis = sqs_models.unix_time_millis
sqs_models.unix_time = lambda dt=None: time.time() if dt is None else _original_unix_time(dt)
sqs_models.unix_time_millis = lambda dt=None: time.time() * 1000.0 if dt is None else _original_unix_time_millis(dt)

_sqs_lock = threading.RLock()


def _locked(original):
    def operation(self, *args, **kwargs):
        with _sqs_lock:
            return original(self, *args, **kwargs)

    return operation


for _name in ("send_message", "send_message_batch", "delete_message", "delete_message_batch",
              "change_message_visibility", "change_message_visibility_batch", "purge_queue", "get_queue_attributes"):
    setattr(sqs_models.SQSBackend, _name, _locked(getattr(sqs_models.SQSBackend, _name)))

_original_receive_message = sqs_models.SQSBackend.receive_message


def receive_message(self, queue_name, count, wait_seconds_timeout, visibility_timeout, message_attribute_names=None):
    deadline = time.time() + (wait_seconds_timeout or 0)
    while True:
        with _sqs_lock:
            result = _original_receive_message(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
            queue = self.get_queue(queue_name)
        left = deadline - time.time()
        if result or left <= 0:
            return result
        queue.wait_for_messages(min(left, 1.0))


sqs_models.SQSBackend.receive_message = receive_message


def queue_delete_message(self, receipt_handle: str) -> None:
    if receipt_handle in self.deleted_messages:
        return  # already deleted: AWS accepts it again
    for i, message in enumerate(self._messages):
        if message.had_receipt_handle(receipt_handle):
            self.pending_messages.discard(message)
            self.deleted_messages.update(message.all_receipt_handles)
            del self._messages[i]
            return
    raise ReceiptHandleIsInvalid()


sqs_models.Queue.delete_message = queue_delete_message


def _counted_once_a_second(name):
    original = getattr(sqs_models.Queue, name).fget

    def count(self):
        cache = self.__dict__.setdefault("_delayed_push_counts", {})
        value, at = cache.get(name, (0, 0.0))
        now = time.time()
        if now - at >= 1.0:
            value = original(self)
            cache[name] = (value, now)
        return value

    setattr(sqs_models.Queue, name, property(count))


for _name in ("approximate_number_of_messages", "approximate_number_of_messages_delayed",
              "approximate_number_of_messages_not_visible"):
    _counted_once_a_second(_name)


# --- Patch 17: CloudFormation does not create AWS::Scheduler::ScheduleGroup ----------------
# moto gap: its CloudFormation has no model for AWS::Scheduler::* ("No Moto CloudFormation
# support", cloudformation/parsing.py); the stack still completes, but a Ref to the group becomes
# "None" inside Fn::Join, a Fn::GetAtt of its Arn is "undefined resource" (a 500 in Outputs), and
# the scheduler API has no such group, so a CreateSchedule in it fails.
# AWS: the group exists; Ref is its name, Fn::GetAtt Arn its ARN.
# Here: a CloudFormation model that creates the group in the scheduler backend. moto finds
# models through CloudFormationModel.__subclasses__() (cached at the first stack) and keys them by
# module, hence __module__.
from moto.core.common_models import CloudFormationModel  # noqa: E402
from moto.scheduler import models as scheduler_models  # noqa: E402

require(scheduler_models, "scheduler_backends", "EventBridgeSchedulerBackend", "ScheduleGroup")
require(scheduler_models.EventBridgeSchedulerBackend, "create_schedule_group", "delete_schedule_group",
        "create_schedule", "get_schedule", "update_schedule", "delete_schedule", "list_schedules",
        "get_schedule_group", "list_schedule_groups")


class CfnScheduleGroup(CloudFormationModel):
    __module__ = "moto.scheduler.models"

    def __init__(self, group):
        self.group = group

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Scheduler::ScheduleGroup"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Arn", "CreationDate", "LastModificationDate", "State")

    @property
    def physical_resource_id(self) -> str:
        return self.group.name

    def get_cfn_attribute(self, attribute_name: str):
        return {"Arn": self.group.arn, "State": "ACTIVE", "CreationDate": self.group.created_on,
                "LastModificationDate": self.group.last_modified}[attribute_name]

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json.get("Properties", {})
        backend = scheduler_models.scheduler_backends[account_id][region_name]
        return cls(backend.create_schedule_group(name=props.get("Name", resource_name), tags=props.get("Tags", [])))

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        return original_resource  # the name is its identity; tags are not worth an update here

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        scheduler_models.scheduler_backends[account_id][region_name].schedule_groups.pop(resource_name, None)

    def is_created(self) -> bool:
        return True


# --- Patch 18: the scheduler backend is not thread-safe; an unknown group is a 500 -----------
# moto bugs: ListSchedules iterates every group's dict of schedules while other request threads
# add and delete schedules ("dictionary changed size during iteration", a 500), as the local
# scheduler runner lists every second while a burst creates schedules; and CreateSchedule (or
# DeleteScheduleGroup) naming a group that does not exist raises KeyError, a 500.
# AWS: ResourceNotFoundException for the unknown group; each operation atomic.
# Here: every scheduler operation runs under one lock; an unknown group in CreateSchedule or
# DeleteScheduleGroup is ResourceNotFoundException, as GetSchedule already answers.
_scheduler_lock = threading.RLock()


def _scheduler_locked(original):
    @functools.wraps(original)
    def operation(self, *args, **kwargs):
        with _scheduler_lock:
            return original(self, *args, **kwargs)

    return operation


_original_create_schedule = scheduler_models.EventBridgeSchedulerBackend.create_schedule
_original_delete_schedule_group = scheduler_models.EventBridgeSchedulerBackend.delete_schedule_group


def create_schedule_in_known_group(self, *args, **kwargs):
    self.get_schedule_group(kwargs.get("group_name"))  # ResourceNotFoundException, not KeyError
    return _original_create_schedule(self, *args, **kwargs)


def delete_known_schedule_group(self, name):
    self.get_schedule_group(name)
    return _original_delete_schedule_group(self, name)


scheduler_models.EventBridgeSchedulerBackend.create_schedule = create_schedule_in_known_group
scheduler_models.EventBridgeSchedulerBackend.delete_schedule_group = delete_known_schedule_group
for _name in ("create_schedule", "get_schedule", "update_schedule", "delete_schedule", "list_schedules",
              "create_schedule_group", "delete_schedule_group", "get_schedule_group", "list_schedule_groups"):
    setattr(scheduler_models.EventBridgeSchedulerBackend, _name,
            _scheduler_locked(getattr(scheduler_models.EventBridgeSchedulerBackend, _name)))


# --- Addition 8: what a device received, at a cost that does not grow with the pushes sent ---
# Not a bug fix: moto keeps every message published to a platform endpoint
# (sns/models.py PlatformEndpoint.messages) but offers no API for it except
# GET /moto-api/data.json, which serializes the whole emulator (hundreds of MB after a few
# thousand pushes). These read one endpoint's messages, or only the counts:
#   GET /_delayed-push/sns/endpoint-messages?arn=ARN[&after=N]
#       {"endpointArn": ARN, "total": N, "messages": [{"messageId": ..., "message": ...}, ...]}
#       messages in publish order, from the (after+1)-th on
#   GET /_delayed-push/sns/endpoint-message-counts
#       {"total": N, "endpoints": {ARN: count, ...}}
require(DomainDispatcherApplication, "__call__")
PREFIX = "/_delayed-push/"


def all_platform_endpoints():
    for _account_id, by_region in list(sns_backends.items()):
        for _region, backend in list(by_region.items()):
            yield from list(backend.platform_endpoints.items())


def snapshot(ordered: dict) -> list:
    # Another thread may publish while we copy; copying again is cheap and rare.
    for _ in range(5):
        try:
            return list(ordered.items())
        except RuntimeError:
            continue
    return list(ordered.items())


def delayed_push_api(path: str, query: dict) -> tuple[int, dict]:
    if path == "sns/endpoint-messages":
        arn = query.get("arn", [""])[0]
        after = int(query.get("after", ["0"])[0] or 0)
        parts = arn.split(":")
        if len(parts) < 6:
            return 400, {"error": "arn must be a platform endpoint ARN"}
        endpoint = sns_backends[parts[4]][parts[3]].platform_endpoints.get(arn)
        if endpoint is None:
            return 404, {"error": f"no platform endpoint {arn}"}
        messages = snapshot(endpoint.messages)
        return 200, {
            "endpointArn": arn, "total": len(messages),
            "messages": [{"messageId": i, "message": m} for i, m in messages[after:]],
        }
    if path == "sns/endpoint-message-counts":
        counts = {arn: len(ep.messages) for arn, ep in all_platform_endpoints()}
        return 200, {"total": sum(counts.values()), "endpoints": counts}
    return 404, {"error": f"unknown path {PREFIX}{path}"}


_original_dispatch = DomainDispatcherApplication.__call__


def dispatch(self, environ, start_response):
    path = environ.get("PATH_INFO", "")
    if not path.startswith(PREFIX):
        return _original_dispatch(self, environ, start_response)
    status, doc = delayed_push_api(path[len(PREFIX):], urllib.parse.parse_qs(environ.get("QUERY_STRING", "")))
    body = json.dumps(doc).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
    start_response(f"{status} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


DomainDispatcherApplication.__call__ = dispatch


if __name__ == "__main__":
    # One log line per request costs the emulator a tenth of its time under load (a lock and
    # colorama's stream wrapper, per request); errors are still logged.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # What the moto_server console script does (.venv/bin/moto_server).
    sys.exit(main())
