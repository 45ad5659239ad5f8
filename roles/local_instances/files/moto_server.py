#!/usr/bin/env python3
"""moto_server with the fidelity fixes the local AWS needs, then moto's own CLI.

Usage: moto_server.py [moto_server options]   (e.g. -H 127.0.0.1 -p 5001)

Every fix is a named moto gap (moto 5.2): AWS does X, moto does Y, and without the
fix a converged deployment would not look converged against moto. Each one is
covered by tests/local_aws/test_moto_server.py, which also fails once moto closes
the gap itself, so a fix never outlives its reason.

- ECS CreateService drops healthCheckGracePeriodSeconds and deploymentConfiguration
  (UpdateService keeps them). A service created with a circuit breaker would read
  back without one, and community.aws.ecs_service would update it on every re-run.
"""

from __future__ import annotations

import sys
from typing import Any

# CreateService parameters moto parses but never stores, by moto attribute name.
ECS_CREATE_SERVICE_KEPT = {
    "healthCheckGracePeriodSeconds": "health_check_grace_period_seconds",
    "deploymentConfiguration": "deployment_configuration",
}


def keep_ecs_create_service_parameters() -> None:
    from moto.ecs.responses import EC2ContainerServiceResponse

    create_service = EC2ContainerServiceResponse.create_service
    if getattr(create_service, "ragstack_fix", False):
        return

    def create_service_keeping_parameters(self: Any) -> Any:
        result = create_service(self)
        cluster = self.ecs_backend._get_cluster(self._get_param("cluster", "default"))
        service = self.ecs_backend.services[f"{cluster.name}:{self._get_param('serviceName')}"]
        # The response is serialised after this returns, from these attributes,
        # exactly as UpdateService does it.
        for parameter, attribute in ECS_CREATE_SERVICE_KEPT.items():
            value = self._get_param(parameter)
            if value is not None:
                setattr(service, attribute, value)
        return result

    create_service_keeping_parameters.ragstack_fix = True
    EC2ContainerServiceResponse.create_service = create_service_keeping_parameters


def apply_fixes() -> None:
    keep_ecs_create_service_parameters()


def main(argv: list[str]) -> None:
    apply_fixes()
    from moto.server import main as moto_main

    moto_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
