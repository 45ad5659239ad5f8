"""arch=lambda against moto: converge, no-op re-run by release id, what was created (the
functions' code is the release's zips in S3, RAGSTACK_RELEASE), the handlers, bad input."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import (
    AWS_REGION,
    ENV,
    EXTENSION_LAYER_ARN,
    FAKE_OPENAI_KEY,
    PREFIX,
    RELEASE_BUCKET,
    REPO_ROOT,
    artifact_bytes,
    assert_converged,
    check_redeploy_by_id,
    check_teardown,
    check_ui_bucket_holds_the_bundle,
    check_unknown_release_refused,
    code_sha256,
    current_release,
    dumps,
    moto_is_empty,
)
from http_api_events import http_api_event

FUNCTIONS = {"embedding": f"{PREFIX}-embedding", "orchestrator": f"{PREFIX}-orchestrator"}
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
EMBEDDING_ROUTES = {
    "GET /health",
    "GET /ready",
    "POST /embed",
    "POST /documents",
    "DELETE /documents/{id}",
    "POST /search",
}
# What the orchestrator calls on the embedding service: all its role may invoke.
ORCHESTRATOR_UPSTREAM_ROUTES = ["POST /search", "POST /documents", "GET /ready"]
# A second canary secret, so that both functions have a parameter to read.
FAKE_MONGODB_URI = "mongodb+srv://canary-user:canary-pass-0123@cluster0.example.mongodb.net/"
PARAMETERS = {
    "OPENAI_API_KEY": f"/ragstack/{ENV}/openai_api_key",
    "MONGODB_URI": f"/ragstack/{ENV}/mongodb_uri",
}


def _parameter_arn(name: str) -> str:
    return f"arn:aws:ssm:{AWS_REGION}:123456789012:parameter{name}"


@pytest.fixture(scope="module")
def converged(reset_moto, run_playbook):
    """A deploy that builds the release from the checkout, then the same release again by
    its id (test_upgrade_... below re-runs from the checkout: a rebuild is a no-op too)."""
    reset_moto()
    env = {"MONGODB_URI": FAKE_MONGODB_URI}
    first = run_playbook("arch_lambda.yml", env=env)
    assert first.rc == 0, first.output[-6000:]
    second = run_playbook("arch_lambda.yml", "-e", f"ragstack_release={first.release_id}", env=env)
    print(f"\narch=lambda first converge {first.seconds:.1f}s, re-run by id {second.seconds:.1f}s")
    return first, second


def test_bad_zip_size_is_refused_before_any_aws_call(reset_moto, run_playbook, aws):
    reset_moto()
    run = run_playbook("arch_lambda.yml", "-e", "lambda_app_max_unzipped_bytes=100000")
    assert run.rc != 0
    assert "over Lambda's 100000-byte limit (250 MB unzipped). Nothing was sent to AWS." in run.text
    assert "deploy it as a container image" in run.text
    leftovers = moto_is_empty(aws)
    assert not any(leftovers.values()), dumps(leftovers)


def test_provisioned_concurrency_is_refused_before_any_aws_call(reset_moto, run_playbook, aws):
    reset_moto()
    run = run_playbook("arch_lambda.yml", "-e", "lambda_app_orchestrator_provisioned_concurrency=2")
    assert run.rc != 0
    assert "Provisioned concurrency is not supported yet" in run.text
    assert "Nothing was sent to AWS." in run.text
    leftovers = moto_is_empty(aws)
    assert not any(leftovers.values()), dumps(leftovers)


def test_converges_and_rerun_changes_nothing(converged):
    assert_converged(*converged)


def test_rerun_by_release_id_builds_and_changes_nothing(converged, aws):
    first, second = converged
    check_redeploy_by_id(second, first.release_id)
    manifest = current_release(aws)
    assert manifest["id"] == first.release_id
    assert manifest["images"] == {}
    assert sorted(manifest["artifacts"]) == ["lambda-embedding", "lambda-orchestrator", "ui"]


def test_unknown_release_is_refused_before_any_write(converged, run_playbook, aws):
    check_unknown_release_refused(
        run_playbook, aws, "arch_lambda.yml", env={"MONGODB_URI": FAKE_MONGODB_URI}
    )


def test_artifacts_fit_lambda_and_are_reproducible(converged, aws):
    manifest = current_release(aws)
    for name in ("lambda-embedding", "lambda-orchestrator"):
        with zipfile.ZipFile(io.BytesIO(artifact_bytes(aws, manifest, name))) as archive:
            infos = archive.infolist()
        assert sum(i.file_size for i in infos) < LAMBDA_UNZIPPED_LIMIT
        # Fixed timestamps are what makes CodeSha256 stable and the re-run a no-op.
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}


def test_functions_run_the_release(converged, aws):
    manifest = current_release(aws)
    client = aws("lambda")
    for key, name in FUNCTIONS.items():
        function = client.get_function(FunctionName=name)
        ref = manifest["artifacts"][f"lambda-{key}"]
        assert ref["bucket"] == RELEASE_BUCKET
        # Lambda's hash of the code it runs is the hash of the zip the manifest names.
        assert function["Configuration"]["CodeSha256"] == code_sha256(ref["sha256"])
        assert function["Configuration"]["CodeSize"] == ref["bytes"]
        variables = function["Configuration"]["Environment"]["Variables"]
        assert variables["RAGSTACK_RELEASE"] == manifest["id"], name


def test_functions(converged, aws):
    client = aws("lambda")
    embedding = client.get_function(FunctionName=FUNCTIONS["embedding"])
    orchestrator = client.get_function(FunctionName=FUNCTIONS["orchestrator"])
    assert embedding["Configuration"]["Runtime"] == "python3.12"
    assert embedding["Configuration"]["Handler"] == "lambda_handler.handler"
    assert embedding["Configuration"]["Environment"]["Variables"]["EMBEDDING_PROVIDER"] == "hashing"
    assert orchestrator["Configuration"]["Runtime"] in {"nodejs20.x", "nodejs22.x"}
    assert orchestrator["Configuration"]["Handler"] == "lambda_handler.handler"
    assert embedding["Concurrency"]["ReservedConcurrentExecutions"] == 10
    assert orchestrator["Concurrency"]["ReservedConcurrentExecutions"] == 20
    variables = orchestrator["Configuration"]["Environment"]["Variables"]
    api = aws("apigatewayv2").get_apis()["Items"][0]
    assert variables["EMBEDDING_SERVICE_URL"] == api["ApiEndpoint"]
    # The embedding routes are AWS_IAM: the orchestrator signs its calls with its role.
    assert variables["EMBEDDING_SERVICE_AUTH"] == "aws_iam"
    assert variables["CORS_ALLOW_ORIGIN"] == "https://ragstack.local"
    # The embedding function (hashing provider) gets no OpenAI key it does not use.
    embedding_variables = embedding["Configuration"]["Environment"]["Variables"]
    assert not any(k.startswith("OPENAI_API_KEY") for k in embedding_variables)
    # Only the orchestrator (Node, no AWS SDK) reads its secrets through the extension layer.
    assert [layer["Arn"] for layer in orchestrator["Configuration"]["Layers"]] == [
        EXTENSION_LAYER_ARN
    ]
    assert not embedding["Configuration"].get("Layers")


def test_function_configuration_has_parameter_names_never_secret_values(converged, aws):
    ssm = aws("ssm")
    for var, name in PARAMETERS.items():
        stored = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
        assert stored["Type"] == "SecureString", var
    expected = {
        "embedding": {"MONGODB_URI_SSM_PARAMETER": PARAMETERS["MONGODB_URI"]},
        "orchestrator": {"OPENAI_API_KEY_SSM_PARAMETER": PARAMETERS["OPENAI_API_KEY"]},
    }
    client = aws("lambda")
    for key, name in FUNCTIONS.items():
        configuration = client.get_function_configuration(FunctionName=name)
        variables = configuration["Environment"]["Variables"]
        for canary in (FAKE_OPENAI_KEY, FAKE_MONGODB_URI, "canary-pass-0123"):
            assert canary not in json.dumps(configuration, default=str), name
        assert "OPENAI_API_KEY" not in variables
        assert "MONGODB_URI" not in variables
        secret_names = {k: v for k, v in variables.items() if k.endswith("_SSM_PARAMETER")}
        assert secret_names == expected[key], dumps(variables)


def test_secret_stored_as_securestring(converged, aws):
    parameter = aws("ssm").get_parameter(
        Name=f"/ragstack/{ENV}/openai_api_key", WithDecryption=True
    )
    assert parameter["Parameter"]["Type"] == "SecureString"
    assert parameter["Parameter"]["Value"] == FAKE_OPENAI_KEY
    first, second = converged
    assert FAKE_OPENAI_KEY not in first.output + second.output
    assert "canary-pass-0123" not in first.output + second.output


def _route_arn(api_id: str, route: str) -> str:
    method, path = route.split(" ", 1)
    return f"arn:aws:execute-api:{AWS_REGION}:123456789012:{api_id}/$default/{method}{path}"


def test_roles_are_least_privilege(converged, aws):
    iam = aws("iam")
    (api,) = aws("apigatewayv2").get_apis()["Items"]
    for key, name in FUNCTIONS.items():
        assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []
        policies = iam.list_role_policies(RoleName=name)["PolicyNames"]
        assert policies == [f"{name}-least-privilege"]
        document = iam.get_role_policy(RoleName=name, PolicyName=policies[0])["PolicyDocument"]
        statements = document["Statement"]
        invoke = [["execute-api:Invoke"]] if key == "orchestrator" else []
        assert [s["Action"] for s in statements] == [
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            ["ssm:GetParameter"],
            ["kms:Decrypt"],
            *invoke,
        ]
        if invoke:
            # Exactly the three embedding routes it calls on this API: no wildcard, no other API.
            assert statements[3]["Effect"] == "Allow"
            assert sorted(statements[3]["Resource"]) == sorted(
                _route_arn(api["ApiId"], route) for route in ORCHESTRATOR_UPSTREAM_ROUTES
            )
            assert "*" not in json.dumps(statements[3])
        assert statements[0]["Resource"].endswith(f":log-group:/aws/lambda/{name}:*")
        # Exactly the parameters named in its environment, nothing under a wildcard.
        variables = aws("lambda").get_function_configuration(FunctionName=name)["Environment"][
            "Variables"
        ]
        names = [v for k, v in variables.items() if k.endswith("_SSM_PARAMETER")]
        assert names
        resource = statements[1]["Resource"]
        assert sorted([resource] if isinstance(resource, str) else resource) == sorted(
            _parameter_arn(n) for n in names
        )
        assert statements[2]["Resource"] == "*"
        assert statements[2]["Condition"] == {
            "StringEquals": {"kms:ViaService": f"ssm.{AWS_REGION}.amazonaws.com"}
        }
        assert "*" not in json.dumps(statements[1])


def test_log_groups_have_retention(converged, aws):
    groups = aws("logs").describe_log_groups()["logGroups"]
    retention = {g["logGroupName"]: g.get("retentionInDays") for g in groups}
    for name in [*(f"/aws/lambda/{f}" for f in FUNCTIONS.values()), f"/aws/apigateway/{PREFIX}"]:
        assert retention.get(name) == 30, dumps(retention)


def test_http_api_routes_throttling_access_logs(converged, aws):
    client = aws("apigatewayv2")
    apis = [a for a in client.get_apis()["Items"] if a["Name"] == PREFIX]
    assert len(apis) == 1
    api_id = apis[0]["ApiId"]
    integrations = {i["IntegrationId"]: i for i in client.get_integrations(ApiId=api_id)["Items"]}
    routes = {r["RouteKey"]: r for r in client.get_routes(ApiId=api_id)["Items"]}
    assert set(routes) == {"ANY /api/{proxy+}", *EMBEDDING_ROUTES}
    # The UI's /api/* is public; the embedding service answers only signed IAM callers.
    # (moto stores and returns AuthorizationType but does not enforce it:
    # test_lambda_iam_auth.py checks the signing end to end.)
    authorization = {key: route.get("AuthorizationType") for key, route in routes.items()}
    assert authorization == {
        "ANY /api/{proxy+}": "NONE",
        **dict.fromkeys(EMBEDDING_ROUTES, "AWS_IAM"),
    }
    target = routes["ANY /api/{proxy+}"]["Target"].split("/")[1]
    assert integrations[target]["IntegrationUri"].endswith(f":function:{FUNCTIONS['orchestrator']}")
    assert integrations[target]["PayloadFormatVersion"] == "2.0"
    target = routes["POST /search"]["Target"].split("/")[1]
    assert integrations[target]["IntegrationUri"].endswith(f":function:{FUNCTIONS['embedding']}")
    stage = client.get_stage(ApiId=api_id, StageName="$default")
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 50
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == 20
    assert stage["AccessLogSettings"]["DestinationArn"].endswith(
        f":log-group:/aws/apigateway/{PREFIX}"
    )
    assert "$context.requestId" in stage["AccessLogSettings"]["Format"]
    # Each function may be invoked by the API on its own routes only.
    execution_arn = f"arn:aws:execute-api:{AWS_REGION}:123456789012:{api_id}"
    expected = {
        "orchestrator": {f"{execution_arn}/*/*/api/*"},
        "embedding": {
            f"{execution_arn}/*/GET/health",
            f"{execution_arn}/*/GET/ready",
            f"{execution_arn}/*/POST/embed",
            f"{execution_arn}/*/POST/documents",
            f"{execution_arn}/*/DELETE/documents/*",
            f"{execution_arn}/*/POST/search",
        },
    }
    for key, name in FUNCTIONS.items():
        policy = json.loads(aws("lambda").get_policy(FunctionName=name)["Policy"])
        statements = policy["Statement"]
        assert {s["Principal"]["Service"] for s in statements} == {"apigateway.amazonaws.com"}
        assert {s["Action"] for s in statements} == {"lambda:InvokeFunction"}
        source_arns = {s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in statements}
        assert source_arns == expected[key], dumps(statements)
        assert f"{PREFIX}-http-api" not in {s["Sid"] for s in statements}


def test_ui_bucket_private_encrypted_versioned(converged, aws):
    s3 = aws("s3")
    (bucket,) = [
        b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith(f"{PREFIX}-ui-")
    ]
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    config = json.loads(s3.get_object(Bucket=bucket, Key="config.json")["Body"].read())
    api = aws("apigatewayv2").get_apis()["Items"][0]
    assert config == {"apiBaseUrl": api["ApiEndpoint"]}
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert "index.html" in keys
    assert any(k.startswith("assets/") for k in keys)
    check_ui_bucket_holds_the_bundle(aws, current_release(aws))


def test_cloudfront_https_tls12_oac(converged, aws):
    cloudfront = aws("cloudfront")
    (summary,) = cloudfront.list_distributions()["DistributionList"]["Items"]
    config = cloudfront.get_distribution_config(Id=summary["Id"])["DistributionConfig"]
    assert config["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert config["ViewerCertificate"]["SSLSupportMethod"] == "sni-only"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    (origin,) = config["Origins"]["Items"]
    # No legacy origin access identity: access goes through the OAC below.
    assert origin.get("S3OriginConfig", {}).get("OriginAccessIdentity", "") == ""
    assert "CustomOriginConfig" not in origin
    oacs = cloudfront.list_origin_access_controls()["OriginAccessControlList"]["Items"]
    (oac,) = [o for o in oacs if o["Name"] == f"{PREFIX}-ui"]
    assert oac["SigningProtocol"] == "sigv4"
    assert oac["SigningBehavior"] == "always"
    assert oac["OriginAccessControlOriginType"] == "s3"
    # moto gap (CloudFront Origin.OriginAccessControlId): moto's Origin model drops the
    # field, so get_distribution_config cannot show the OAC on the origin. What we send
    # is asserted on the module's own config builder in test_cloudfront_module_attaches_oac.
    assert "OriginAccessControlId" not in origin or origin["OriginAccessControlId"] == oac["Id"]
    s3 = aws("s3")
    bucket = origin["DomainName"].split(".s3.")[0]
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    (statement,) = [s for s in policy["Statement"] if s["Sid"] == "CloudFrontReadOnly"]
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert statement["Condition"]["StringEquals"]["AWS:SourceArn"] == summary["ARN"]


def test_cloudfront_module_attaches_oac():
    sys.path.insert(0, str(REPO_ROOT / ".collections"))
    from ansible_collections.ragstack.aws.plugins.modules import cloudfront_s3_distribution as m

    params = {
        "aliases": [],
        "acm_certificate_arn": "",
        "minimum_protocol_version": "TLSv1.2_2021",
        "default_root_object": "index.html",
        "bucket_regional_domain_name": "b.s3.us-east-1.amazonaws.com",
        "price_class": "PriceClass_100",
        "cache_policy_id": "x",
    }
    config = m._config(params, "OAC123", "ref")
    assert config["Origins"]["Items"][0]["OriginAccessControlId"] == "OAC123"
    assert config["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
    # The change detector ignores the caller reference, not the settings.
    assert m._digest(config) == m._digest(m._config(params, "OAC123", "other"))
    assert m._digest(config) != m._digest(m._config(params, "OAC999", "ref"))


def test_provisioned_concurrency_is_a_moto_gap(converged, aws):
    """moto gap (Lambda PutProvisionedConcurrencyConfig): not implemented, so the
    lambda_app_*_provisioned_concurrency option (default 0) is exercised only on AWS."""
    client = aws("lambda")
    version = client.publish_version(FunctionName=FUNCTIONS["orchestrator"])["Version"]
    with pytest.raises(Exception, match=r"(?i)not.*implemented|404|unknown"):
        client.put_provisioned_concurrency_config(
            FunctionName=FUNCTIONS["orchestrator"],
            Qualifier=version,
            ProvisionedConcurrentExecutions=1,
        )


def _event(method: str, path: str, body: object = None) -> dict:
    """The event API Gateway sends for the route `method path` (JSON body base64-encoded)."""
    raw = json.dumps(body).encode() if body is not None else None
    return http_api_event(method, path, raw, route_key=f"{method} {path}")


EMBEDDING_HANDLER_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
import lambda_handler
class Context:
    function_name = "ragstack-dev-embedding"
    aws_request_id = "r1"
    def get_remaining_time_in_millis(self):
        return 30000
events = json.loads(sys.stdin.read())
print(json.dumps([lambda_handler.handler(event, Context()) for event in events]))
"""


def test_embedding_handler_answers_http_api_v2_events(tmp_path):
    events = [
        _event("GET", "/health"),
        _event("POST", "/embed", {"texts": ["hello lambda"]}),
        _event("POST", "/embed", {"texts": []}),
    ]
    # A fresh interpreter: the handler module reads its environment at import.
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            EMBEDDING_HANDLER_SCRIPT,
            str(REPO_ROOT / "services/embedding_service"),
        ],
        input=json.dumps(events),
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "EMBEDDING_PROVIDER": "hashing",
            "DATA_DIR": str(tmp_path),
            "RAGSTACK_RELEASE": "r-0123456789ab",
        },
    )
    assert proc.returncode == 0, proc.stderr
    health, embed, invalid = json.loads(proc.stdout.strip().splitlines()[-1])
    assert health["statusCode"] == 200
    # The release the function's environment names (lambda_app_release_id).
    assert json.loads(health["body"]) == {"status": "ok", "release": "r-0123456789ab"}
    assert embed["statusCode"] == 200
    body = json.loads(embed["body"])
    assert body["provider"] == "hashing"
    assert len(body["vectors"]) == 1
    assert len(body["vectors"][0]) == body["dimension"]
    assert invalid["statusCode"] == 422 or 400 <= invalid["statusCode"] < 500
    assert json.loads(invalid["body"])["error"]["type"] == "validation_error"


ORCHESTRATOR_HANDLER_SCRIPT = """
const { handler } = require(process.argv[1] + '/lambda_handler.js');
const events = JSON.parse(require('fs').readFileSync(0, 'utf8'));
(async () => {
  const out = [];
  for (const event of events) out.push(await handler(event, { awsRequestId: 'r1' }));
  console.log(JSON.stringify(out));
})().catch((err) => { console.error(err); process.exit(1); });
"""


def test_orchestrator_zip_answers_http_api_v2_events(converged, aws, tmp_path):
    """Runs the released zip itself (npm ci --omit=dev node_modules), not the checkout."""
    manifest = current_release(aws)
    zipped = artifact_bytes(aws, manifest, "lambda-orchestrator")
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        archive.extractall(tmp_path)
    assert (tmp_path / "node_modules/serverless-http").is_dir()
    events = [
        _event("GET", "/api/health"),
        _event("GET", "/api/nope"),
        _event("POST", "/api/query", {"question": ""}),
    ]
    proc = subprocess.run(
        ["node", "-e", ORCHESTRATOR_HANDLER_SCRIPT, str(tmp_path)],
        input=json.dumps(events),
        capture_output=True,
        text=True,
        timeout=60,
        # Nothing listens there: an empty question must be refused before any upstream call.
        env={
            **os.environ,
            "EMBEDDING_SERVICE_URL": "http://127.0.0.1:9",
            "RAGSTACK_RELEASE": manifest["id"],
        },
    )
    assert proc.returncode == 0, proc.stderr
    health, missing, bad = json.loads(proc.stdout.strip().splitlines()[-1])
    assert health["statusCode"] == 200
    assert json.loads(health["body"]) == {"status": "ok", "release": manifest["id"]}
    assert missing["statusCode"] == 404
    assert "error" in json.loads(missing["body"])
    assert bad["statusCode"] == 400
    assert json.loads(bad["body"])["error"]["type"] == "validation_error"


def _http_api_module(moto_endpoint: str, routes: list[dict], *flags: str) -> dict:
    """Runs ragstack.aws.apigatewayv2_http_api once (ad hoc) and returns its result."""
    args = {
        "name": f"{PREFIX}-authorization-module-test",
        "routes": routes,
        "state": "absent" if not routes else "present",
        "endpoint_url": moto_endpoint,
        "access_key": "testing",
        "secret_key": "testing",
        "region": AWS_REGION,
    }
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible"), "localhost", "-o", "-m",
         "ragstack.aws.apigatewayv2_http_api", "-a", json.dumps(args), *flags],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
             "ANSIBLE_NOCOLOR": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.split(" => ", 1)[1])


def test_http_api_module_updates_authorization_type_idempotently(moto_endpoint, aws):
    """authorization_type: created, kept, changed in place (not in check mode), kept again."""
    function_arn = f"arn:aws:lambda:{AWS_REGION}:123456789012:function:{PREFIX}-embedding"
    client = aws("apigatewayv2")

    def routes(search_auth: str) -> list[dict]:
        return [
            {"route_keys": ["GET /health"], "function_arn": function_arn},
            {"route_keys": ["POST /search"], "function_arn": function_arn,
             "authorization_type": search_auth},
        ]  # fmt: skip

    def in_moto(api_id: str) -> dict:
        items = client.get_routes(ApiId=api_id)["Items"]
        return {r["RouteKey"]: r["AuthorizationType"] for r in items}

    created = _http_api_module(moto_endpoint, routes("AWS_IAM"))
    assert created["changed"] is True
    api_id = created["api_id"]
    assert in_moto(api_id) == {"GET /health": "NONE", "POST /search": "AWS_IAM"}
    assert created["route_authorization_types"] == in_moto(api_id)
    route_ids = {r["RouteKey"]: r["RouteId"] for r in client.get_routes(ApiId=api_id)["Items"]}
    try:
        assert _http_api_module(moto_endpoint, routes("AWS_IAM"))["changed"] is False
        checked = _http_api_module(moto_endpoint, routes("NONE"), "--check")
        assert checked["changed"] is True
        assert in_moto(api_id)["POST /search"] == "AWS_IAM", "check mode changed a route"
        updated = _http_api_module(moto_endpoint, routes("NONE"))
        assert updated["changed"] is True
        assert in_moto(api_id) == {"GET /health": "NONE", "POST /search": "NONE"}
        # Updated in place, not replaced.
        assert {r["RouteKey"]: r["RouteId"] for r in client.get_routes(ApiId=api_id)["Items"]} == (
            route_ids
        )
        assert _http_api_module(moto_endpoint, routes("NONE"))["changed"] is False
    finally:
        assert _http_api_module(moto_endpoint, [])["changed"] is True
    assert api_id not in {a["ApiId"] for a in client.get_apis()["Items"]}


def test_upgrade_closes_open_routes_only_after_the_orchestrator_signs(converged, run_playbook, aws):
    """A deployment from before the embedding routes required IAM: open routes and an
    orchestrator that does not sign. The run keeps the routes open until the signing
    orchestrator is deployed and closes them after, so /api/* never meets a 403."""
    apis = aws("apigatewayv2")
    (api,) = [a for a in apis.get_apis()["Items"] if a["Name"] == PREFIX]
    for route in apis.get_routes(ApiId=api["ApiId"])["Items"]:
        if route["RouteKey"] in EMBEDDING_ROUTES:
            apis.update_route(
                ApiId=api["ApiId"], RouteId=route["RouteId"], AuthorizationType="NONE"
            )
    functions = aws("lambda")
    configuration = functions.get_function_configuration(FunctionName=FUNCTIONS["orchestrator"])
    variables = configuration["Environment"]["Variables"]
    del variables["EMBEDDING_SERVICE_AUTH"]
    functions.update_function_configuration(
        FunctionName=FUNCTIONS["orchestrator"], Environment={"Variables": variables}
    )

    run = run_playbook("arch_lambda.yml", env={"MONGODB_URI": FAKE_MONGODB_URI})
    assert run.rc == 0, run.output[-6000:]
    api_task = (
        "ragstack.aws.lambda_app : Create the HTTP API, its routes, throttling and access logs"
    )
    assert run.changed_tasks == [
        "ragstack.aws.lambda_app : Deploy the orchestrator function",
        f"{api_task}: require signed calls",
    ], run.output[-6000:]
    routes = apis.get_routes(ApiId=api["ApiId"])["Items"]
    assert {r["RouteKey"]: r["AuthorizationType"] for r in routes} == {
        "ANY /api/{proxy+}": "NONE",
        **dict.fromkeys(EMBEDDING_ROUTES, "AWS_IAM"),
    }
    configuration = functions.get_function_configuration(FunctionName=FUNCTIONS["orchestrator"])
    assert configuration["Environment"]["Variables"]["EMBEDDING_SERVICE_AUTH"] == "aws_iam"


# Last in this module: it removes what the tests above inspect.
def test_teardown_removes_the_arch_and_keeps_secrets(converged, run_playbook, aws):
    # The zip path creates no ECR repository (test_lambda_image.py tears that one down).
    check_teardown(run_playbook, aws, "lambda", not_created=frozenset({"repositories"}))
    # Data stays unless -e teardown_data=true.
    names = [p["Name"] for p in aws("ssm").describe_parameters()["Parameters"]]
    assert f"/ragstack/{ENV}/openai_api_key" in names
