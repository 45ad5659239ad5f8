"""The local AWS plays the Auto Scaling group as AWS does, for what a zero-downtime fleet
relies on (moto 5.2 launches synchronously, terminates at once and knows no lifecycle
action). Installed by moto_server.py (install()); every behaviour is covered by
tests/local_aws/test_autoscaling.py, which also fails once plain moto closes the gap.

What moto does, and what this module makes of it:

- Lifecycle hooks. moto stores PutLifecycleHook and ignores it, ignores the group's
  LifecycleHookSpecificationList in a template, and has no CompleteLifecycleAction: a new
  instance is InService and registered in the group's target groups at once. Here an
  instance launched into a group with an autoscaling:EC2_INSTANCE_LAUNCHING hook is
  Pending:Wait (running in EC2, so the instance agent boots it) and NOT registered until
  CompleteLifecycleAction(CONTINUE) makes it InService and registers it; ABANDON, or the
  heartbeat timeout with DefaultResult ABANDON, terminates it and the group replaces it.
- Drain before terminate. moto terminates a scaled-in instance at once (and picks the
  first ones listed). Here scale-in (SetDesiredCapacity, UpdateAutoScalingGroup, a stack
  update lowering DesiredCapacity) and TerminateInstanceInAutoScalingGroup deregister the
  instance from the group's target groups at once, keep it running in EC2 (lifecycle state
  Terminating) for the target groups' deregistration_delay.timeout_seconds, then terminate
  it. The instance to go follows AWS's Default termination policy: the oldest launch
  template version first, then the oldest instance; protected instances stay.
- Replacement. moto replaces an instance terminated at EC2 level synchronously, whatever
  the suspended processes, and never looks at target health. Here the group's health check
  (a background pass every TICK_SECONDS) finds an instance that is no longer running (EC2
  health), or, with HealthCheckType ELB and once HealthCheckGracePeriod has passed since it
  went InService, an instance a target group reports `unhealthy` (DescribeTargetHealth, which
  the local load balancer feeds with the health it measures); the group replaces it unless
  HealthCheck, ReplaceUnhealthy (or Launch, for the new one) is suspended.
- Rolling updates. moto has no UpdatePolicy and no SignalResource; a stack update changing
  the group's launch template left the running instances as they were. Here a stack update
  (UpdateStack or ExecuteChangeSet) that changes the launch template version of a group with
  UpdatePolicy.AutoScalingRollingUpdate replaces the old instances MaxBatchSize at a time,
  keeping MinInstancesInService in service (new instances first when that leaves no room),
  waiting for SignalResource from each new instance when WaitOnResourceSignals (else
  PauseTime); the stack is UPDATE_IN_PROGRESS until done, then UPDATE_COMPLETE; a FAILURE
  signal or PauseTime without enough signals rolls the stack back (UPDATE_ROLLBACK_COMPLETE:
  the previous template and parameters, the new instances drained away).
  A group whose launch template version is a GetAtt on the launch template
  (LatestVersionNumber) is updated when that template gets a new version, as on AWS; moto
  left it on the old version because the group's own JSON did not change.

Not played (docs/local-vs-aws.md): EC2_INSTANCE_TERMINATING hooks, termination policies
other than Default, warm pools, MinSuccessfulInstancesPercent below 100, CreationPolicy
signals at stack creation, and deleting a group drains nothing (its instances go at once).

Every state this keeps lives on moto's own objects (the group, its InstanceStates, the
stack), so a moto reset drops it with them; the background pass walks the live backends
each time and never touches an object a reset has let go.
"""

from __future__ import annotations

import re
import sys
import threading
import time
import traceback
import uuid
from typing import Any

TICK_SECONDS = 0.5
LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
# Lifecycle states that no longer count towards the desired capacity.
LEAVING = {"Terminating", "Terminating:Wait", "Terminating:Proceed", "Terminated", "Detaching"}
NOT_COUNTED = LEAVING | {"Standby", "Detached"}
# AWS's default deregistration delay of a target group.
DEFAULT_DEREGISTRATION_DELAY = 300
# moto serves requests on several threads and this module acts from its own: one lock
# around every change this module makes to a group.
LOCK = threading.RLock()
_sequence = iter(range(1, 1 << 62))
_STARTED = threading.Event()


def log(message: str) -> None:
    print(f"[autoscaling] {message}", file=sys.stderr, flush=True)


# --- instances of a group ---------------------------------------------------------------


def _resolved_version(group: Any) -> int | None:
    template = getattr(group, "ec2_launch_template", None)
    if template is None:
        return None
    return template.get_version(group.launch_template_version).number


def _counted(group: Any) -> list[Any]:
    return [s for s in group.instance_states if s.lifecycle_state not in NOT_COUNTED]


def _suspended(group: Any, *processes: str) -> bool:
    names = {p["ProcessName"] for p in group.suspended_processes}
    return any(p in names for p in processes)


def _launching_hooks(group: Any) -> list[Any]:
    backend = group.autoscaling_backend
    return [
        hook
        for hook in list(backend.lifecycle_hooks.values())
        if hook.auto_scaling_group_name == group.name and hook.lifecycle_transition == LAUNCHING
    ]


def _elbv2(group: Any) -> Any:
    return group.autoscaling_backend.elbv2_backend


def _target_groups(group: Any) -> list[Any]:
    backend = _elbv2(group)
    return [backend.target_groups[a] for a in group.target_group_arns if a in backend.target_groups]


def _register(group: Any, state: Any) -> None:
    for target_group in _target_groups(group):
        target_group.register([{"Id": state.instance.id, "Port": target_group.port}])


def _deregister(group: Any, state: Any) -> None:
    for target_group in _target_groups(group):
        if state.instance.id in target_group.targets:
            target_group.deregister([{"Id": state.instance.id}])


def _deregistration_delay(group: Any) -> float:
    delays = [
        float(
            tg.attributes.get("deregistration_delay.timeout_seconds", DEFAULT_DEREGISTRATION_DELAY)
        )
        for tg in _target_groups(group)
    ]
    return max(delays, default=0.0)


def _go_in_service(group: Any, state: Any) -> None:
    state.lifecycle_state = "InService"
    state.ragstack_in_service_at = time.monotonic()
    state.ragstack_hook = None
    _register(group, state)


def _terminate_now(group: Any, state: Any) -> None:
    ec2 = group.autoscaling_backend.ec2_backend
    instance = ec2.get_instance_by_id(state.instance.id)
    if instance is not None and instance.state not in ("terminated", "shutting-down"):
        ec2.terminate_instances([state.instance.id])
    group.instance_states = [s for s in group.instance_states if s is not state]


def _retire(group: Any, state: Any, drain: bool = True) -> None:
    """Terminating: out of the target groups now, terminated after their deregistration
    delay (the instance keeps serving its in-flight requests meanwhile)."""
    if state.lifecycle_state in LEAVING:
        return
    registered = state.lifecycle_state == "InService"
    state.lifecycle_state = "Terminating"
    state.ragstack_hook = None
    _deregister(group, state)
    delay = _deregistration_delay(group) if drain and registered else 0.0
    state.ragstack_terminate_at = time.monotonic() + delay
    log(f"{group.name}: {state.instance.id} Terminating, terminated in {delay:g}s")
    if delay <= 0:
        _terminate_now(group, state)


def _termination_order(group: Any, states: list[Any]) -> list[Any]:
    """AWS's Default policy, within one group: the oldest launch template version first,
    then the oldest instance (the Availability Zone balancing step is moot here: moto puts a
    group's instances in one subnet)."""
    return sorted(
        states,
        key=lambda s: (
            getattr(s, "ragstack_launch_template_version", None) or 0,
            getattr(s, "ragstack_sequence", 0),
        ),
    )


def _scale_in(group: Any, count: int) -> None:
    candidates = [
        s
        for s in _counted(group)
        if not s.protected_from_scale_in
        and s.lifecycle_state in ("InService", "Pending", "Pending:Wait")
    ]
    drain = not getattr(group, "ragstack_deleting", False)
    for state in _termination_order(group, candidates)[:count]:
        _retire(group, state, drain=drain)


# --- patches on moto's autoscaling ------------------------------------------------------


def _patch_launch() -> None:
    from moto.autoscaling.models import FakeAutoScalingGroup, InstanceState

    launch = FakeAutoScalingGroup.replace_autoscaling_group_instances

    def launch_into_lifecycle(self: Any, count_needed: int, propagated_tags: dict) -> None:
        with LOCK:
            before = set(map(id, self.instance_states))
            launch(self, count_needed, propagated_tags)
            hooks = _launching_hooks(self)
            version = _resolved_version(self)
            for state in self.instance_states:
                if id(state) in before:
                    continue
                state.ragstack_sequence = next(_sequence)
                state.ragstack_launch_template_version = version
                state.ragstack_terminate_at = None
                if hooks:
                    hook = hooks[0]
                    state.lifecycle_state = "Pending:Wait"
                    state.ragstack_hook = {
                        "name": hook.name,
                        "token": str(uuid.uuid4()),
                        "default": hook.default_result,
                        "timeout": float(hook.heartbeat_timeout),
                        "deadline": time.monotonic() + float(hook.heartbeat_timeout),
                    }
                    log(f"{self.name}: {state.instance.id} Pending:Wait ({hook.name})")
                else:
                    state.ragstack_hook = None
                    state.ragstack_in_service_at = time.monotonic()

    def launch_template_launched_with(self: Any) -> dict[str, Any] | None:
        # The version the instance was launched with, as AWS reports it (moto: the group's).
        group = self.auto_scaling_group
        if group is None or group.ec2_launch_template is None:
            return None
        version = getattr(self, "ragstack_launch_template_version", None)
        return {
            "LaunchTemplateId": group.ec2_launch_template.id,
            "LaunchTemplateName": group.ec2_launch_template.name,
            "Version": str(version or group.ec2_launch_template.default_version_number),
        }

    launch_into_lifecycle.ragstack_fix = True
    FakeAutoScalingGroup.replace_autoscaling_group_instances = launch_into_lifecycle
    InstanceState.launch_template = property(launch_template_launched_with)


def _patch_capacity() -> None:
    from moto.autoscaling.models import AutoScalingBackend, FakeAutoScalingGroup

    set_desired = FakeAutoScalingGroup.set_desired_capacity

    def set_desired_capacity(self: Any, new_capacity: int | None) -> None:
        if self.mixed_instances_policy and self.mixed_instances_policy.get(
            "LaunchTemplate", {}
        ).get("Overrides"):
            # Weighted mixed-instance fleets: moto's own arithmetic (not used here).
            return set_desired(self, new_capacity)
        with LOCK:
            self.desired_capacity = self.min_size if new_capacity is None else new_capacity
            _reconcile(self)
            if self.name in self.autoscaling_backend.autoscaling_groups:
                self.autoscaling_backend.update_attached_elbs(self.name)
                self.autoscaling_backend.update_attached_target_groups(self.name)

    def update_attached_target_groups(self: Any, group_name: str) -> None:
        # AWS registers an instance when it goes InService (moto: every instance it has,
        # Pending:Wait and Terminating ones included).
        group = self.autoscaling_groups[group_name]
        for state in group.instance_states:
            if state.lifecycle_state == "InService":
                _register(group, state)

    def notify_terminate_instances(self: Any, instance_ids: list[str]) -> None:
        # Terminated at EC2 level: the group's health check finds it (_health_pass),
        # as on AWS, where it is not replaced while HealthCheck/ReplaceUnhealthy are suspended.
        for group in list(self.autoscaling_groups.values()):
            for state in group.instance_states:
                if state.instance.id in instance_ids:
                    state.ragstack_terminated_outside = True

    def terminate_instance(self: Any, instance_id: str, should_decrement: bool) -> Any:
        from moto.autoscaling.exceptions import ValidationError
        from moto.autoscaling.models import TerminateInstanceActivity

        with LOCK:
            found = [
                (group, state)
                for group in self.autoscaling_groups.values()
                for state in group.instance_states
                if state.instance.id == instance_id
            ]
            if not found:
                raise ValidationError(
                    "Instance Id not found - No managed instance found for instance ID: "
                    + instance_id
                )
            group, state = found[0]
            original = group.desired_capacity
            if should_decrement:
                group.desired_capacity = max(0, (group.desired_capacity or 0) - 1)
            _retire(group, state)
            # Without the decrement, the group launches the replacement now.
            _reconcile(group)
            return TerminateInstanceActivity(state.instance, original)

    delete = AutoScalingBackend.delete_auto_scaling_group

    def delete_auto_scaling_group(self: Any, group_name: str) -> None:
        group = self.autoscaling_groups.get(group_name)
        if group is not None:
            group.ragstack_deleting = True
        with LOCK:
            delete(self, group_name)
            if group is not None:
                for state in list(group.instance_states):
                    _terminate_now(group, state)

    set_desired_capacity.ragstack_fix = True
    FakeAutoScalingGroup.set_desired_capacity = set_desired_capacity
    AutoScalingBackend.update_attached_target_groups = update_attached_target_groups
    AutoScalingBackend.notify_terminate_instances = notify_terminate_instances
    AutoScalingBackend.terminate_instance = terminate_instance
    AutoScalingBackend.delete_auto_scaling_group = delete_auto_scaling_group


def _reconcile(group: Any) -> None:
    counted = len(_counted(group))
    wanted = group.desired_capacity or 0
    if counted < wanted and not _suspended(group, "Launch"):
        group.replace_autoscaling_group_instances(wanted - counted, group.get_propagated_tags())
    elif counted > wanted and not _suspended(group, "Terminate"):
        _scale_in(group, counted - wanted)


def _find_lifecycle_action(
    backend: Any, group_name: str, hook_name: str, instance_id: str | None, token: str | None
) -> tuple[Any, Any]:
    from moto.autoscaling.exceptions import ValidationError

    group = backend.autoscaling_groups.get(group_name)
    if group is not None:
        for state in group.instance_states:
            hook = getattr(state, "ragstack_hook", None)
            if (
                hook
                and hook["name"] == hook_name
                and (state.instance.id == instance_id or (token and hook["token"] == token))
            ):
                return group, state
    raise ValidationError(
        f"No active Lifecycle Action found with instance ID {instance_id or token}"
    )


def _finish_lifecycle_action(group: Any, state: Any, result: str) -> None:
    log(f"{group.name}: {state.instance.id} lifecycle action {result}")
    if result == "CONTINUE":
        _go_in_service(group, state)
    else:
        # ABANDON on launch: terminated, and the group launches another one.
        _retire(group, state, drain=False)
        _reconcile(group)


def _patch_lifecycle_actions() -> None:
    from moto.autoscaling.exceptions import ValidationError
    from moto.autoscaling.models import FakeAutoScalingGroup, LifecycleHook, autoscaling_backends
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.core.responses import EmptyResult

    def complete_lifecycle_action(self: Any) -> Any:
        result = self._get_param("LifecycleActionResult")
        if result not in ("CONTINUE", "ABANDON"):
            raise ValidationError("LifecycleActionResult must be CONTINUE or ABANDON")
        with LOCK:
            group, state = _find_lifecycle_action(
                self.autoscaling_backend,
                self._get_param("AutoScalingGroupName"),
                self._get_param("LifecycleHookName"),
                self._get_param("InstanceId"),
                self._get_param("LifecycleActionToken"),
            )
            _finish_lifecycle_action(group, state, result)
        return EmptyResult()

    def record_lifecycle_action_heartbeat(self: Any) -> Any:
        with LOCK:
            _, state = _find_lifecycle_action(
                self.autoscaling_backend,
                self._get_param("AutoScalingGroupName"),
                self._get_param("LifecycleHookName"),
                self._get_param("InstanceId"),
                self._get_param("LifecycleActionToken"),
            )
            state.ragstack_hook["deadline"] = time.monotonic() + state.ragstack_hook["timeout"]
        return EmptyResult()

    AutoScalingResponse.complete_lifecycle_action = complete_lifecycle_action
    AutoScalingResponse.record_lifecycle_action_heartbeat = record_lifecycle_action_heartbeat

    create = FakeAutoScalingGroup.create_from_cloudformation_json.__func__

    def create_with_hooks(
        cls: Any,
        resource_name: str,
        cloudformation_json: dict,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        # The hooks exist before the group launches its first instances, as on AWS.
        backend = autoscaling_backends[account_id][region_name]
        name = cloudformation_json["Properties"].get("AutoScalingGroupName") or resource_name
        _put_hooks(backend, name, cloudformation_json["Properties"])
        return create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    def _put_hooks(backend: Any, name: str, properties: dict) -> None:
        for spec in properties.get("LifecycleHookSpecificationList") or []:
            backend.lifecycle_hooks[f"{name}_{spec['LifecycleHookName']}"] = LifecycleHook(
                spec["LifecycleHookName"],
                name,
                spec.get("LifecycleTransition"),
                int(spec["HeartbeatTimeout"]) if spec.get("HeartbeatTimeout") else None,
                spec.get("DefaultResult"),
            )

    update = FakeAutoScalingGroup.update_from_cloudformation_json.__func__

    def update_with_hooks_and_rolling(
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict,
        account_id: str,
        region_name: str,
    ) -> Any:
        backend = autoscaling_backends[account_id][region_name]
        properties = cloudformation_json["Properties"]
        name = getattr(original_resource, "name", None)
        if name in backend.autoscaling_groups and "LifecycleHookSpecificationList" in properties:
            for key in [
                k for k, h in backend.lifecycle_hooks.items() if h.auto_scaling_group_name == name
            ]:
                del backend.lifecycle_hooks[key]
            _put_hooks(backend, name, properties)
        before = (
            _resolved_version(original_resource) if name in backend.autoscaling_groups else None
        )
        with LOCK:
            group = update(
                cls,
                original_resource,
                new_resource_name,
                cloudformation_json,
                account_id,
                region_name,
            )
            policy = (cloudformation_json.get("UpdatePolicy") or {}).get("AutoScalingRollingUpdate")
            if (
                group is original_resource
                and policy is not None
                and before is not None
                and _resolved_version(group) != before
                and not _ROLLING_SUPPRESSED.is_set()
            ):
                # Played once the stack's update has applied (_patch_stacks).
                group.ragstack_rolling_update = {"policy": policy, "old_version": before}
        return group

    FakeAutoScalingGroup.create_from_cloudformation_json = classmethod(create_with_hooks)
    update_with_hooks_and_rolling.ragstack_fix = True
    FakeAutoScalingGroup.update_from_cloudformation_json = classmethod(
        update_with_hooks_and_rolling
    )


# --- the group's background pass -------------------------------------------------------


def _health_pass(group: Any) -> None:
    now = time.monotonic()
    ec2 = group.autoscaling_backend.ec2_backend
    for state in list(group.instance_states):
        if state.lifecycle_state in LEAVING:
            if state.ragstack_terminate_at is not None and now >= state.ragstack_terminate_at:
                _terminate_now(group, state)
            continue
        hook = getattr(state, "ragstack_hook", None)
        if hook and now >= hook["deadline"]:
            log(f"{group.name}: {state.instance.id} heartbeat timeout")
            _finish_lifecycle_action(group, state, hook["default"])
            continue
        if _suspended(group, "HealthCheck"):
            continue
        instance = ec2.get_instance_by_id(state.instance.id)
        unhealthy = instance is None or instance.state != "running"
        in_service_at = getattr(state, "ragstack_in_service_at", None)
        if (
            not unhealthy
            and group.health_check_type == "ELB"
            and state.lifecycle_state == "InService"
            and in_service_at is not None
            and now >= in_service_at + float(group.health_check_grace_period or 0)
        ):
            backend = _elbv2(group)
            for arn in group.target_group_arns:
                if arn in backend.target_groups:
                    health = backend.describe_target_health(arn, [{"Id": state.instance.id}])
                    if any(h.status == "unhealthy" for h in health):
                        unhealthy = True
        if not unhealthy:
            continue
        state.health_status = "Unhealthy"
        if _suspended(group, "ReplaceUnhealthy"):
            continue
        log(f"{group.name}: {state.instance.id} unhealthy, replaced")
        if instance is None or instance.state in ("terminated", "shutting-down"):
            _deregister(group, state)
            group.instance_states = [s for s in group.instance_states if s is not state]
        else:
            _retire(group, state)


def _tick() -> None:
    from moto.autoscaling.models import autoscaling_backends

    for account_id in list(autoscaling_backends.keys()):
        regions = autoscaling_backends[account_id]
        # keys(): only the regions in use; indexing would create the others.
        for region in list(regions.keys()):
            backend = regions[region]
            for group in list(backend.autoscaling_groups.values()):
                with LOCK:
                    if backend.autoscaling_groups.get(group.name) is not group:
                        continue
                    try:
                        _health_pass(group)
                        _reconcile(group)
                    except Exception:  # noqa: BLE001 - one broken group must not stop the others
                        log(f"{group.name}: {traceback.format_exc()}")


def _run() -> None:
    while True:
        time.sleep(TICK_SECONDS)
        try:
            _tick()
        except Exception:  # noqa: BLE001 - e.g. a moto reset while walking the backends
            log(traceback.format_exc())


# --- CloudFormation: rolling updates and SignalResource ---------------------------------

_ROLLING_SUPPRESSED = threading.Event()
_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$")


def _seconds(duration: str | None, default: float) -> float:
    match = _DURATION.match(str(duration or ""))
    if not duration or not match:
        return default
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def _as_bool(value: Any) -> bool:
    return str(value).lower() == "true"


class RollingUpdateFailed(Exception):
    pass


def _signals(stack: Any, logical_id: str) -> dict[str, str]:
    return stack.__dict__.setdefault("ragstack_signals", {}).setdefault(logical_id, {})


def _play_rolling_update(
    stack: Any, logical_id: str, group: Any, plan: dict, previous: dict
) -> None:
    policy = plan["policy"]
    batch_size = max(1, int(policy.get("MaxBatchSize", 1)))
    min_in_service = int(policy.get("MinInstancesInService", 0))
    wait_on_signals = _as_bool(policy.get("WaitOnResourceSignals", False))
    pause = _seconds(policy.get("PauseTime"), 300.0 if wait_on_signals else 0.0)
    suspend = list(policy.get("SuspendProcesses") or [])
    backend = group.autoscaling_backend
    try:
        with LOCK:
            desired = group.desired_capacity or 0
            if suspend:
                backend.suspend_processes(group.name, suspend)
            if min_in_service >= (group.max_size or 0):
                raise RollingUpdateFailed(
                    f"MinInstancesInService {min_in_service} must be less than the group's "
                    f"MaxSize {group.max_size}"
                )
        while True:
            with LOCK:
                new_version = _resolved_version(group)
                old = [
                    s
                    for s in _counted(group)
                    if getattr(s, "ragstack_launch_template_version", None) != new_version
                ]
                if not old:
                    break
                count = min(batch_size, len(old))
                in_service = sum(1 for s in _counted(group) if s.lifecycle_state == "InService")
                drop_first = min(count, max(0, in_service - min_in_service))
                extra = count - drop_first
                for state in _termination_order(group, old)[:drop_first]:
                    _retire(group, state)
                before = set(map(id, group.instance_states))
                _signals(stack, logical_id).clear()
                group.desired_capacity = desired + extra
                _reconcile(group)
                launched = [s for s in group.instance_states if id(s) not in before]
                log(f"{group.name}: rolling batch, {len(launched)} new, {drop_first} old out first")
            deadline = time.monotonic() + pause
            while True:
                with LOCK:
                    received = _signals(stack, logical_id)
                    if "FAILURE" in received.values():
                        raise RollingUpdateFailed("Received FAILURE signal")
                    done = (
                        sum(1 for v in received.values() if v == "SUCCESS") >= len(launched)
                        if wait_on_signals
                        else time.monotonic() >= deadline
                    )
                if done:
                    break
                if wait_on_signals and time.monotonic() >= deadline:
                    raise RollingUpdateFailed(
                        f"Received {sum(1 for v in received.values() if v == 'SUCCESS')} SUCCESS "
                        f"signal(s) out of {len(launched)}: timed out waiting (PauseTime)"
                    )
                time.sleep(0.2)
            with LOCK:
                group.desired_capacity = desired
                _reconcile(group)
        with LOCK:
            _finish_stack(stack, "UPDATE_COMPLETE", None)
    except RollingUpdateFailed as error:
        log(f"{group.name}: rolling update failed: {error}")
        with LOCK:
            _roll_back(stack, group, plan, previous, str(error), desired)
    except Exception:  # noqa: BLE001
        log(traceback.format_exc())
        with LOCK:
            _finish_stack(stack, "UPDATE_ROLLBACK_FAILED", "internal error in the harness")
    finally:
        with LOCK:
            if suspend and backend.autoscaling_groups.get(group.name) is group:
                backend.resume_processes(group.name, suspend)
            group.ragstack_rolling = False


def _roll_back(
    stack: Any, group: Any, plan: dict, previous: dict, reason: str, desired: int
) -> None:
    stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
    stack.status = "UPDATE_ROLLBACK_IN_PROGRESS"
    new_version = _resolved_version(group)
    # The instances of the failed update go first (drained), so that the group's own
    # rollback below finds its capacity and scales nothing else in.
    for state in _counted(group):
        if getattr(state, "ragstack_launch_template_version", None) == new_version:
            _retire(group, state)
    group.desired_capacity = desired
    _ROLLING_SUPPRESSED.set()
    try:
        stack.template = previous["template"]
        stack._parse_template()
        stack.resource_map.update(stack.template_dict, previous["parameters"])
        stack.parameters = previous["parameters"]
        stack.tags = previous["tags"]
        stack.output_map = stack._create_output_map()
    except Exception:  # noqa: BLE001
        log(traceback.format_exc())
        _finish_stack(stack, "UPDATE_ROLLBACK_FAILED", "the previous template did not apply")
        return
    finally:
        _ROLLING_SUPPRESSED.clear()
    # Refilled, if anything is missing, from the template the group has again.
    _reconcile(group)
    _finish_stack(stack, "UPDATE_ROLLBACK_COMPLETE", None)


def _finish_stack(stack: Any, status: str, reason: str | None) -> None:
    stack._add_stack_event(status, resource_status_reason=reason)
    stack.status = status
    stack.__dict__.pop("ragstack_signals", None)
    log(f"stack {stack.name}: {status}")


def _begin_rolling_updates(stack: Any, previous: dict) -> None:
    """After moto applied an update: play the rolling updates it asked for, the stack
    UPDATE_IN_PROGRESS meanwhile (moto has already called it UPDATE_COMPLETE)."""
    from moto.autoscaling.models import FakeAutoScalingGroup

    for logical_id, resource in list(stack.resource_map._parsed_resources.items()):
        if not isinstance(resource, FakeAutoScalingGroup):
            continue
        plan = resource.__dict__.pop("ragstack_rolling_update", None)
        if plan is None:
            continue
        if stack.events and stack.events[-1].resource_status == "UPDATE_COMPLETE":
            stack.events.pop()
        stack.status = "UPDATE_IN_PROGRESS"
        resource.ragstack_rolling = True
        threading.Thread(
            target=_play_rolling_update,
            args=(stack, logical_id, resource, plan, previous),
            name=f"rolling-update-{resource.name}",
            daemon=True,
        ).start()
        # One group per stack is what cloudformation/ec2.yaml has; a second one would wait
        # for the stack status the first one sets.
        return


def _snapshot(stack: Any) -> dict:
    return {
        "template": stack.template,
        "parameters": dict(stack.parameters or {}),
        "tags": dict(stack.tags or {}),
    }


def _refresh_dependent_groups(resource_map: Any) -> None:
    """A group whose LaunchTemplate Version reads the launch template's LatestVersionNumber
    is updated when the template has a new version (AWS re-evaluates the GetAtt)."""
    from moto.autoscaling.models import FakeAutoScalingGroup
    from moto.cloudformation.parsing import clean_json, parse_and_update_resource

    for logical_id, resource in list(resource_map._parsed_resources.items()):
        if not isinstance(resource, FakeAutoScalingGroup):
            continue
        resource_json = resource_map._resource_json_map.get(logical_id)
        spec = ((resource_json or {}).get("Properties") or {}).get("LaunchTemplate") or {}
        if not isinstance(spec.get("Version"), dict):
            continue
        wanted = clean_json(spec, resource_map).get("Version")
        if wanted is not None and str(wanted) != str(resource.provided_launch_template_version):
            resource_map._parsed_resources[logical_id] = parse_and_update_resource(
                logical_id,
                resource_json,
                resource_map,
                account_id=resource_map._account_id,
                region_name=resource_map._region_name,
            )


def _patch_stacks() -> None:
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend, Stack
    from moto.cloudformation.parsing import ResourceMap
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import EmptyResult

    update_resources = ResourceMap.update

    def update_resources_and_dependents(
        self: Any, template: dict, parameters: dict | None = None
    ) -> None:
        update_resources(self, template, parameters)
        _refresh_dependent_groups(self)

    update_stack = Stack.update

    def update_stack_rolling(self: Any, *args: Any, **kwargs: Any) -> None:
        previous = _snapshot(self)
        with LOCK:
            update_stack(self, *args, **kwargs)
            _begin_rolling_updates(self, previous)

    execute = CloudFormationBackend.execute_change_set

    def execute_change_set_rolling(
        self: Any, change_set_name: str, stack_name: str | None = None
    ) -> None:
        change_set = self.change_sets.get(change_set_name) or next(
            (c for c in self.change_sets.values() if c.change_set_name == change_set_name), None
        )
        stack = self.stacks.get(change_set.stack_id) if change_set is not None else None
        previous = _snapshot(stack) if stack is not None else None
        with LOCK:
            execute(self, change_set_name, stack_name)
            if stack is not None and change_set.change_set_type == "UPDATE":
                _begin_rolling_updates(stack, previous)

    def signal_resource(self: Any) -> Any:
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        logical_id = self._get_param("LogicalResourceId")
        status = self._get_param("Status")
        with LOCK:
            resource = stack.resource_map._parsed_resources.get(logical_id)
            if resource is None:
                raise ValidationError(
                    message=f"Resource {logical_id} does not exist for stack {stack.name}"
                )
            if not getattr(resource, "ragstack_rolling", False):
                # What AWS answers a signal nothing waits for.
                raise ValidationError(
                    message=f"Stack {stack.stack_id} is in {stack.status} state "
                    "and can not be signaled"
                )
            _signals(stack, logical_id)[self._get_param("UniqueId")] = status
        return EmptyResult()

    update_resources_and_dependents.ragstack_fix = True
    ResourceMap.update = update_resources_and_dependents
    Stack.update = update_stack_rolling
    CloudFormationBackend.execute_change_set = execute_change_set_rolling
    CloudFormationResponse.signal_resource = signal_resource


def install() -> None:
    """Patch moto (once) and start the group's background pass."""
    from moto.autoscaling.models import FakeAutoScalingGroup

    if getattr(FakeAutoScalingGroup.replace_autoscaling_group_instances, "ragstack_fix", False):
        return
    _patch_launch()
    _patch_capacity()
    _patch_lifecycle_actions()
    _patch_stacks()
    if not _STARTED.is_set():
        _STARTED.set()
        threading.Thread(target=_run, name="ragstack-autoscaling", daemon=True).start()
