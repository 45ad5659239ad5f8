#!/usr/bin/python
# Copyright: ragstack maintainers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
module: cloudfront_s3_distribution
short_description: A CloudFront distribution for a private S3 bucket through origin access control
description:
  - Creates, updates or deletes an origin access control (OAC, SigV4 to S3) and a distribution
    whose only origin is the bucket through that OAC, with https-only viewers and a minimum
    TLS policy.
  - Exists because M(community.aws.cloudfront_distribution) cannot attach an origin access control.
  - The distribution is found by its comment, which holds O(name) and a hash of the wanted
    configuration; an unchanged hash is no change.
  - With no O(acm_certificate_arn) CloudFront serves its default *.cloudfront.net certificate,
    for which CloudFront negotiates TLSv1 at minimum whatever O(minimum_protocol_version) says.
  - O(state=absent) disables the distribution, waits until it is deployed (O(wait)), then deletes it
    and the OAC.
version_added: 0.1.0
author: ragstack maintainers (!UNKNOWN)
options:
  name:
    description: Name of the OAC and key in the distribution's comment.
    type: str
    required: true
  state:
    description: present or absent.
    type: str
    choices: [present, absent]
    default: present
  bucket_regional_domain_name:
    description: C(<bucket>.s3.<region>.amazonaws.com). Required when present.
    type: str
  aliases:
    description: Alternate domain names (need O(acm_certificate_arn)).
    type: list
    elements: str
    default: []
  acm_certificate_arn:
    description: ACM certificate in us-east-1 for O(aliases).
    type: str
    default: ""
  minimum_protocol_version:
    description: Viewer TLS security policy.
    type: str
    default: TLSv1.2_2021
  default_root_object:
    description: Object served for C(/).
    type: str
    default: index.html
  price_class:
    description: CloudFront price class.
    type: str
    default: PriceClass_100
  cache_policy_id:
    description: Cache policy of the default behaviour (AWS managed CachingOptimized by default).
    type: str
    default: 658327ea-f89d-4fab-a63d-7e88639e58f6
  wait:
    description: Wait for the distribution to be deployed (needed before a delete on AWS).
    type: bool
    default: false
  tags:
    description: Tags of the distribution (set at creation).
    type: dict
    default: {}
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: UI distribution
  ragstack.aws.cloudfront_s3_distribution:
    name: ragstack-dev-ui
    bucket_regional_domain_name: ragstack-dev-ui.s3.us-east-1.amazonaws.com
    aliases: [rag.example.com]
    acm_certificate_arn: arn:aws:acm:us-east-1:111122223333:certificate/abc
  register: ui
"""

RETURN = r"""
distribution_id:
  description: Distribution id (empty when absent).
  returned: always
  type: str
distribution_arn:
  description: Distribution ARN, for the bucket policy's AWS:SourceArn condition.
  returned: always
  type: str
domain_name:
  description: C(<id>.cloudfront.net).
  returned: always
  type: str
origin_access_control_id:
  description: The OAC's id.
  returned: always
  type: str
distribution_config:
  description: The DistributionConfig sent on the last create or update (or that would be).
  returned: when present
  type: dict
"""

import hashlib
import json

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.ragstack.aws.plugins.module_utils.aws_client import aws_client

_ORIGIN_ID = "ui-bucket"


def _oac(client, name):
    items = client.list_origin_access_controls().get("OriginAccessControlList", {}).get("Items", [])
    return next((item for item in items or [] if item["Name"] == name), None)


def _distribution(client, name):
    paginator = client.get_paginator("list_distributions")
    for page in paginator.paginate():
        for item in page.get("DistributionList", {}).get("Items", []) or []:
            if item.get("Comment", "").split(" ")[0] == name:
                return item
    return None


def _config(params, oac_id, caller_reference):
    aliases = params["aliases"]
    if params["acm_certificate_arn"]:
        certificate = {
            "ACMCertificateArn": params["acm_certificate_arn"],
            "SSLSupportMethod": "sni-only",
            "MinimumProtocolVersion": params["minimum_protocol_version"],
        }
    else:
        certificate = {
            "CloudFrontDefaultCertificate": True,
            "MinimumProtocolVersion": params["minimum_protocol_version"],
        }
    return {
        "CallerReference": caller_reference,
        "Aliases": {"Quantity": len(aliases), "Items": aliases},
        "DefaultRootObject": params["default_root_object"],
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": _ORIGIN_ID,
                    "DomainName": params["bucket_regional_domain_name"],
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                    "OriginAccessControlId": oac_id,
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": _ORIGIN_ID,
            "ViewerProtocolPolicy": "redirect-to-https",
            "AllowedMethods": {
                "Quantity": 2,
                "Items": ["GET", "HEAD"],
                "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]},
            },
            "Compress": True,
            "CachePolicyId": params["cache_policy_id"],
        },
        "Comment": "",
        "PriceClass": params["price_class"],
        "Enabled": True,
        "ViewerCertificate": certificate,
        "HttpVersion": "http2and3",
        "IsIPV6Enabled": True,
    }


def _digest(config):
    hashed = {k: v for k, v in config.items() if k not in ("CallerReference", "Comment")}
    return hashlib.sha256(json.dumps(hashed, sort_keys=True).encode()).hexdigest()[:16]


def _ensure_oac(client, module):
    oac = _oac(client, module.params["name"])
    if oac is not None:
        return oac["Id"], False
    if module.check_mode:
        return "check-mode", True
    created = client.create_origin_access_control(
        OriginAccessControlConfig={
            "Name": module.params["name"],
            "Description": "ragstack UI bucket access (SigV4)",
            "SigningProtocol": "sigv4",
            "SigningBehavior": "always",
            "OriginAccessControlOriginType": "s3",
        }
    )
    return created["OriginAccessControl"]["Id"], True


def _present(client, module, result):
    if not module.params["bucket_regional_domain_name"]:
        module.fail_json(msg="bucket_regional_domain_name is required with state=present")
    oac_id, changed = _ensure_oac(client, module)
    existing = _distribution(client, module.params["name"])
    reference = f"{module.params['name']}-{module.params['bucket_regional_domain_name']}"
    config = _config(module.params, oac_id, reference)
    digest = _digest(config)
    config["Comment"] = f"{module.params['name']} sha:{digest}"
    result["distribution_config"] = config
    if existing is None:
        changed = True
        if not module.check_mode:
            tags = [{"Key": k, "Value": v} for k, v in module.params["tags"].items()]
            created = client.create_distribution_with_tags(
                DistributionConfigWithTags={"DistributionConfig": config, "Tags": {"Items": tags}}
            )
            existing = created["Distribution"]
    elif existing.get("Comment") != config["Comment"]:
        changed = True
        if not module.check_mode:
            current = client.get_distribution_config(Id=existing["Id"])
            config["CallerReference"] = current["DistributionConfig"]["CallerReference"]
            existing = client.update_distribution(
                Id=existing["Id"], IfMatch=current["ETag"], DistributionConfig=config
            )["Distribution"]
    if existing is not None and module.params["wait"] and not module.check_mode:
        client.get_waiter("distribution_deployed").wait(Id=existing["Id"])
    result.update(
        changed=changed,
        origin_access_control_id=oac_id,
        distribution_id=(existing or {}).get("Id", ""),
        distribution_arn=(existing or {}).get("ARN", ""),
        domain_name=(existing or {}).get("DomainName", ""),
    )


def _absent(client, module, result):
    existing = _distribution(client, module.params["name"])
    if existing is not None:
        result["changed"] = True
        if not module.check_mode:
            current = client.get_distribution_config(Id=existing["Id"])
            etag = current["ETag"]
            if current["DistributionConfig"]["Enabled"]:
                current["DistributionConfig"]["Enabled"] = False
                etag = client.update_distribution(
                    Id=existing["Id"],
                    IfMatch=etag,
                    DistributionConfig=current["DistributionConfig"],
                )["ETag"]
            if module.params["wait"]:
                client.get_waiter("distribution_deployed").wait(Id=existing["Id"])
            client.delete_distribution(Id=existing["Id"], IfMatch=etag)
    oac = _oac(client, module.params["name"])
    if oac is not None:
        result["changed"] = True
        if not module.check_mode:
            etag = client.get_origin_access_control(Id=oac["Id"])["ETag"]
            client.delete_origin_access_control(Id=oac["Id"], IfMatch=etag)


def main():
    module = AnsibleAWSModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "bucket_regional_domain_name": {"type": "str"},
            "aliases": {"type": "list", "elements": "str", "default": []},
            "acm_certificate_arn": {"type": "str", "default": ""},
            "minimum_protocol_version": {"type": "str", "default": "TLSv1.2_2021"},
            "default_root_object": {"type": "str", "default": "index.html"},
            "price_class": {"type": "str", "default": "PriceClass_100"},
            "cache_policy_id": {"type": "str", "default": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
            "wait": {"type": "bool", "default": False},
            "tags": {"type": "dict", "default": {}},
        },
        supports_check_mode=True,
    )
    if module.params["aliases"] and not module.params["acm_certificate_arn"]:
        module.fail_json(msg="aliases need acm_certificate_arn (a us-east-1 ACM certificate)")
    client = aws_client(module, "cloudfront")
    result = {
        "changed": False,
        "distribution_id": "",
        "distribution_arn": "",
        "domain_name": "",
        "origin_access_control_id": "",
    }
    try:
        if module.params["state"] == "present":
            _present(client, module, result)
        else:
            _absent(client, module, result)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
        module.fail_json_aws(
            err, msg=f"Managing CloudFront distribution {module.params['name']} failed"
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
