# Copyright: ragstack.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""boto3 clients for this collection's modules: every call retried on throttling.

amazon.aws retries a call only when it passes aws_retry=True. Our modules make few
calls, each of which can be throttled (API Gateway, CloudFront and Application Auto
Scaling have low control-plane limits), so the client here retries all of them and
a module cannot forget one.
"""

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

# amazon.aws's defaults for jittered backoff: up to 10 tries (it counts tries as retries).
RETRIES = 10
DELAY = 3
# AWSRetry knows "Throttling" (CloudFront) and TooManyRequestsException (Lambda, API
# Gateway) but not ThrottlingException (ECS, SSM, Application Auto Scaling). Lambda
# answers ResourceConflictException while a function's previous update is still being
# applied (right after a code or configuration change); it clears within seconds.
EXTRA_ERROR_CODES = ["ThrottlingException", "ResourceConflictException"]


class _AlwaysRetrying:
    """Proxy over amazon.aws's RetryingBotoClientWrapper that passes aws_retry=True."""

    _NEVER_RETRIED = ("get_paginator", "can_paginate", "get_waiter", "generate_presigned_url")

    def __init__(self, wrapped):
        self._wrapped = wrapped

    def __getattr__(self, name):
        attribute = getattr(self._wrapped, name)
        if name in self._NEVER_RETRIED or not callable(attribute):
            return attribute

        def call(*args, **kwargs):
            return attribute(*args, aws_retry=True, **kwargs)

        return call


def aws_client(module, service, retries=RETRIES, delay=DELAY):
    """module.client(service) whose every API call backs off and retries on throttling."""
    decorator = AWSRetry.jittered_backoff(
        retries=retries, delay=delay, catch_extra_error_codes=EXTRA_ERROR_CODES
    )
    return _AlwaysRetrying(module.client(service, retry_decorator=decorator))
