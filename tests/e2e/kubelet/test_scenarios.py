"""The e2e scenarios written for the node agent, collected again here, where conftest.py gives them the real
kubelet: the runner image in containerd and runc, pulled from nowhere, under the operator's securityContext.

pass · fail, TypeScript, a script that does not compile, timeout and a three-test JobRun · cancel and delete ·
the run's pod deleted (Error, then retried) · a TestJob's every-minute ticks across an operator kill
(that one only here).
"""

import pytest

from tests.e2e.test_outcomes import test_cancel_and_delete, test_outcomes, test_pod_deleted_is_error_then_retried
from tests.e2e.test_testjob import every_minute_ticks_survive_an_operator_kill_and_keep_history as ticks_scenario
from tests.e2e.test_testrun_passed import test_kubectl_apply_reaches_passed

# Whichever test of the tier runs first may build both images (minutes on a cold machine).
pytestmark = pytest.mark.timeout(1800)

# Only here, never on the node agent: see its definition.
test_every_minute_ticks_survive_an_operator_kill_and_keep_history = ticks_scenario

__all__ = [
    "test_cancel_and_delete",
    "test_every_minute_ticks_survive_an_operator_kill_and_keep_history",
    "test_kubectl_apply_reaches_passed",
    "test_outcomes",
    "test_pod_deleted_is_error_then_retried",
]
