#!/usr/bin/python
# Copyright: ragstack maintainers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
module: apigatewayv2_http_api
short_description: API Gateway HTTP API (v2) with Lambda routes, a throttled stage and access logs
description:
  - Creates, updates or deletes an HTTP API found by O(name) (unique in the region).
  - Each route is a Lambda proxy integration (payload format 2.0).
  - Routes and integrations not in O(routes) are removed.
  - Each route is public (V(NONE)) or needs a SigV4-signed request from an IAM principal allowed
    C(execute-api:Invoke) on it (V(AWS_IAM)); a route whose type differs is updated in place.
  - The stage carries default route throttling and access logs to a CloudWatch Logs group.
  - Exists because neither amazon.aws nor community.aws has an HTTP API (apigatewayv2) module.
version_added: 0.1.0
author: ragstack maintainers (!UNKNOWN)
options:
  name:
    description: API name.
    type: str
    required: true
  state:
    description: present or absent.
    type: str
    choices: [present, absent]
    default: present
  description:
    description: API description.
    type: str
    default: ""
  routes:
    description: Route keys (V(ANY /api/{proxy+}), V(POST /search)) and the Lambda ARN behind them.
    type: list
    elements: dict
    default: []
    suboptions:
      route_keys:
        description: Methods and paths.
        type: list
        elements: str
        required: true
      function_arn:
        description: ARN of the Lambda function.
        type: str
        required: true
      timeout_ms:
        description: Integration timeout (50-30000).
        type: int
        default: 30000
      authorization_type:
        description:
          - V(NONE) serves the routes to anyone.
          - V(AWS_IAM) answers 403 to a request that is not signed (Signature Version 4, service
            C(execute-api)) by a principal allowed C(execute-api:Invoke) on
            C(arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/<METHOD>/<path>).
        type: str
        choices: [NONE, AWS_IAM]
        default: NONE
  stage_name:
    description: Stage; V($default) serves the API at its root URL.
    type: str
    default: $default
  throttling_burst_limit:
    description: Default route burst limit of the stage.
    type: int
    default: 100
  throttling_rate_limit:
    description: Default route steady-state requests per second of the stage.
    type: float
    default: 50
  access_log_destination_arn:
    description: CloudWatch Logs group ARN for access logs; none when empty.
    type: str
    default: ""
  access_log_format:
    description: Access log line (JSON with context variables).
    type: str
    # One line: a double-quoted scalar whose escaped line breaks add no spaces (a folded one would).
    default: "{\"requestId\":\"$context.requestId\",\"ip\":\"$context.identity.sourceIp\",\
      \"requestTime\":\"$context.requestTime\",\"routeKey\":\"$context.routeKey\",\
      \"status\":\"$context.status\",\"latency\":\"$context.responseLatency\",\
      \"integrationError\":\"$context.integrationErrorMessage\"}"
  cors_allow_origins:
    description: CORS origins answered by API Gateway; no CORS configuration when empty.
    type: list
    elements: str
    default: []
  tags:
    description: Tags of the API.
    type: dict
    default: {}
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Orchestrator behind an HTTP API
  ragstack.aws.apigatewayv2_http_api:
    name: ragstack-dev
    routes:
      - route_keys: ["ANY /api/{proxy+}"]
        function_arn: arn:aws:lambda:us-east-1:123456789012:function:ragstack-dev-orchestrator
    throttling_burst_limit: 50
    throttling_rate_limit: 20
    access_log_destination_arn: arn:aws:logs:us-east-1:123456789012:log-group:/ragstack/dev/api

- name: Public orchestrator, embedding service only for signed callers
  ragstack.aws.apigatewayv2_http_api:
    name: ragstack-dev
    routes:
      - route_keys: ["ANY /api/{proxy+}"]
        function_arn: arn:aws:lambda:us-east-1:123456789012:function:ragstack-dev-orchestrator
      - route_keys: ["POST /search", "POST /documents", "GET /ready"]
        function_arn: arn:aws:lambda:us-east-1:123456789012:function:ragstack-dev-embedding
        authorization_type: AWS_IAM
"""

RETURN = r"""
api_id:
  description: The API's id (empty when absent).
  returned: always
  type: str
api_endpoint:
  description: The API's base URL, e.g. C(https://abc123.execute-api.us-east-1.amazonaws.com).
  returned: always
  type: str
execution_arn:
  description: ARN prefix for Lambda permissions (C(arn:aws:execute-api:<region>:<account>:<id>)).
  returned: always
  type: str
routes:
  description: The route keys in place.
  returned: always
  type: list
  elements: str
route_authorization_types:
  description:
    - Authorization type of each route key in place.
    - The wanted ones when check mode would create the API.
  returned: always
  type: dict
  sample: {"ANY /api/{proxy+}": "NONE", "POST /search": "AWS_IAM"}
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.ragstack.aws.plugins.module_utils.aws_client import aws_client


def _find(client, name):
    found = [
        api for api in client.get_apis(MaxResults="500").get("Items", []) if api["Name"] == name
    ]
    if len(found) > 1:
        raise ValueError(f"{len(found)} HTTP APIs are named {name}; the name must be unique")
    return found[0] if found else None


def _uri(region, function_arn):
    path = f"2015-03-31/functions/{function_arn}/invocations"
    return f"arn:aws:apigateway:{region}:lambda:path/{path}"


def _sync_integrations(client, module, api_id, region):
    """One integration per function ARN; returns function ARN -> integration id."""
    wanted = {route["function_arn"]: route["timeout_ms"] for route in module.params["routes"]}
    existing = client.get_integrations(ApiId=api_id).get("Items", [])
    by_arn = {}
    changed = False
    for integration in existing:
        arn = next(
            (a for a in wanted if integration.get("IntegrationUri") in (a, _uri(region, a))), None
        )
        if arn is None or arn in by_arn:
            continue
        by_arn[arn] = integration["IntegrationId"]
        if (
            integration.get("TimeoutInMillis") != wanted[arn]
            or integration.get("PayloadFormatVersion") != "2.0"
        ):
            changed = True
            if not module.check_mode:
                client.update_integration(
                    ApiId=api_id,
                    IntegrationId=integration["IntegrationId"],
                    TimeoutInMillis=wanted[arn],
                    PayloadFormatVersion="2.0",
                )
    for arn, timeout in wanted.items():
        if arn in by_arn:
            continue
        changed = True
        if module.check_mode:
            by_arn[arn] = "check-mode"
            continue
        created = client.create_integration(
            ApiId=api_id,
            IntegrationType="AWS_PROXY",
            IntegrationMethod="POST",
            IntegrationUri=arn,
            PayloadFormatVersion="2.0",
            TimeoutInMillis=timeout,
        )
        by_arn[arn] = created["IntegrationId"]
    return (
        by_arn,
        changed,
        [i["IntegrationId"] for i in existing if i["IntegrationId"] not in by_arn.values()],
    )


def _wanted_routes(module, integrations):
    """Route key -> the Target and AuthorizationType it must have."""
    return {
        key: {
            "Target": f"integrations/{integrations[route['function_arn']]}",
            "AuthorizationType": route["authorization_type"],
        }
        for route in module.params["routes"]
        for key in route["route_keys"]
    }


def _sync_routes(client, module, api_id, integrations):
    wanted = _wanted_routes(module, integrations)
    changed = False
    existing = {
        route["RouteKey"]: route for route in client.get_routes(ApiId=api_id).get("Items", [])
    }
    for key, route in existing.items():
        if key not in wanted:
            changed = True
            if not module.check_mode:
                client.delete_route(ApiId=api_id, RouteId=route["RouteId"])
        # A route created without an authorization type is public: NONE.
        elif (route.get("Target"), route.get("AuthorizationType") or "NONE") != (
            wanted[key]["Target"],
            wanted[key]["AuthorizationType"],
        ):
            changed = True
            if not module.check_mode:
                client.update_route(ApiId=api_id, RouteId=route["RouteId"], **wanted[key])
    for key, settings in wanted.items():
        if key not in existing:
            changed = True
            if not module.check_mode:
                client.create_route(ApiId=api_id, RouteKey=key, **settings)
    return changed


def _stage_settings(module):
    settings = {
        "DefaultRouteSettings": {
            "ThrottlingBurstLimit": module.params["throttling_burst_limit"],
            "ThrottlingRateLimit": float(module.params["throttling_rate_limit"]),
        },
        "AutoDeploy": True,
    }
    if module.params["access_log_destination_arn"]:
        settings["AccessLogSettings"] = {
            "DestinationArn": module.params["access_log_destination_arn"],
            "Format": module.params["access_log_format"],
        }
    return settings


def _stage_matches(stage, wanted):
    route = stage.get("DefaultRouteSettings", {})
    return (
        route.get("ThrottlingBurstLimit") == wanted["DefaultRouteSettings"]["ThrottlingBurstLimit"]
        and float(route.get("ThrottlingRateLimit", -1))
        == wanted["DefaultRouteSettings"]["ThrottlingRateLimit"]
        and stage.get("AccessLogSettings") == wanted.get("AccessLogSettings")
        and bool(stage.get("AutoDeploy")) is True
    )


def _sync_stage(client, module, api_id):
    name = module.params["stage_name"]
    wanted = _stage_settings(module)
    stages = {
        stage["StageName"]: stage for stage in client.get_stages(ApiId=api_id).get("Items", [])
    }
    if name in stages and _stage_matches(stages[name], wanted):
        return False
    if module.check_mode:
        return True
    if name in stages:
        try:
            client.update_stage(ApiId=api_id, StageName=name, **wanted)
            return True
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
            # moto has no UpdateStage: replace the stage there (a real API updates in place above).
            if "not yet implemented" not in str(err).lower() and "404" not in str(err):
                raise
        client.delete_stage(ApiId=api_id, StageName=name)
    client.create_stage(ApiId=api_id, StageName=name, **wanted)
    return True


def _sync_api(client, module, api):
    cors = module.params["cors_allow_origins"]
    wanted_cors = (
        {
            "AllowOrigins": cors,
            "AllowMethods": ["GET", "POST", "DELETE", "OPTIONS"],
            "AllowHeaders": ["content-type"],
            "MaxAge": 600,
        }
        if cors
        else None
    )
    if api is None:
        if module.check_mode:
            return {"ApiId": "", "ApiEndpoint": ""}, True
        args = {
            "Name": module.params["name"],
            "ProtocolType": "HTTP",
            "Description": module.params["description"],
            "Tags": module.params["tags"],
        }
        if wanted_cors:
            args["CorsConfiguration"] = wanted_cors
        return client.create_api(**args), True
    changed = False
    current_cors = api.get("CorsConfiguration") or None
    if current_cors is not None:
        current_cors = {
            k: current_cors.get(k)
            for k in ("AllowOrigins", "AllowMethods", "AllowHeaders", "MaxAge")
        }
    if api.get("Description", "") != module.params["description"] or current_cors != wanted_cors:
        changed = True
        if not module.check_mode:
            if wanted_cors:
                client.update_api(
                    ApiId=api["ApiId"],
                    Description=module.params["description"],
                    CorsConfiguration=wanted_cors,
                )
            else:
                client.update_api(ApiId=api["ApiId"], Description=module.params["description"])
                if current_cors:
                    client.delete_cors_configuration(ApiId=api["ApiId"])
    if module.params["tags"] and any(
        api.get("Tags", {}).get(k) != v for k, v in module.params["tags"].items()
    ):
        changed = True
        if not module.check_mode:
            client.tag_resource(
                ResourceArn=_api_arn(module, api["ApiId"]), Tags=module.params["tags"]
            )
    return api, changed


def _api_arn(module, api_id):
    return f"arn:aws:apigateway:{module.region}::/apis/{api_id}"


def main():
    module = AnsibleAWSModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "description": {"type": "str", "default": ""},
            "routes": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    # A route key is a method and a path, not a secret.
                    "route_keys": {
                        "type": "list",
                        "elements": "str",
                        "required": True,
                        "no_log": False,
                    },
                    "function_arn": {"type": "str", "required": True},
                    "timeout_ms": {"type": "int", "default": 30000},
                    "authorization_type": {
                        "type": "str",
                        "choices": ["NONE", "AWS_IAM"],
                        "default": "NONE",
                    },
                },
            },
            "stage_name": {"type": "str", "default": "$default"},
            "throttling_burst_limit": {"type": "int", "default": 100},
            "throttling_rate_limit": {"type": "float", "default": 50},
            "access_log_destination_arn": {"type": "str", "default": ""},
            "access_log_format": {
                "type": "str",
                "default": (
                    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
                    '"requestTime":"$context.requestTime","routeKey":"$context.routeKey",'
                    '"status":"$context.status","latency":"$context.responseLatency",'
                    '"integrationError":"$context.integrationErrorMessage"}'
                ),
            },
            "cors_allow_origins": {"type": "list", "elements": "str", "default": []},
            "tags": {"type": "dict", "default": {}},
        },
        supports_check_mode=True,
    )
    client = aws_client(module, "apigatewayv2")
    result = {
        "changed": False,
        "api_id": "",
        "api_endpoint": "",
        "execution_arn": "",
        "routes": [],
        "route_authorization_types": {},
    }
    try:
        api = _find(client, module.params["name"])
        if module.params["state"] == "absent":
            if api is not None:
                result["changed"] = True
                if not module.check_mode:
                    client.delete_api(ApiId=api["ApiId"])
            module.exit_json(**result)
        api, changed = _sync_api(client, module, api)
        api_id = api["ApiId"]
        if api_id:
            integrations, integrations_changed, stale = _sync_integrations(
                client, module, api_id, module.region
            )
            routes_changed = _sync_routes(client, module, api_id, integrations)
            for integration_id in stale:
                integrations_changed = True
                if not module.check_mode:
                    client.delete_integration(ApiId=api_id, IntegrationId=integration_id)
            stage_changed = _sync_stage(client, module, api_id)
            changed = changed or integrations_changed or routes_changed or stage_changed
            in_place = client.get_routes(ApiId=api_id).get("Items", [])
        else:
            # Check mode on an API still to be created: report what would be.
            placeholder = {r["function_arn"]: "check-mode" for r in module.params["routes"]}
            in_place = [
                {"RouteKey": key, **settings}
                for key, settings in _wanted_routes(module, placeholder).items()
            ]
        result["routes"] = sorted(r["RouteKey"] for r in in_place)
        result["route_authorization_types"] = {
            r["RouteKey"]: r.get("AuthorizationType") or "NONE" for r in in_place
        }
        account = aws_client(module, "sts").get_caller_identity()["Account"] if api_id else ""
    except ValueError as err:
        module.fail_json(msg=str(err))
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
        module.fail_json_aws(err, msg=f"Managing HTTP API {module.params['name']} failed")
    result.update(
        changed=changed,
        api_id=api_id,
        api_endpoint=api.get("ApiEndpoint", ""),
        execution_arn=f"arn:aws:execute-api:{module.region}:{account}:{api_id}" if api_id else "",
    )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
