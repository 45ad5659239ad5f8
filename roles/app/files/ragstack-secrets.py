#!/usr/bin/python3
"""ragstack-secrets: this host's secrets, from SSM Parameter Store into tmpfs files.

Run by ragstack-secrets.service (a oneshot the ragstack.aws.app role installs; it starts
before docker.service, and the role restarts it on every deploy). For the parameters in
the config file it calls GetParameters with decryption, with this host's own credentials:
boto3's default chain, which on EC2 is the instance role. Each value is written to
<directory>/<name>:

- the directory is root's, 0700 (on /run, a tmpfs: nothing reaches a disk);
- a file is 0400 and owned by the containers' user, who reads it through the compose
  `secrets:` bind mount (outside swarm compose keeps the host file's owner and mode);
- a file is replaced atomically (a new inode, so a running container keeps the value it
  started with until it is restarted), and only when its content, owner or mode differ;
- files of names no longer configured are removed.

A configured parameter that does not exist, or any AWS error, fails the run before a
file is touched. No value is ever printed: the output and the status file carry names,
SSM versions and modification times only (the role reads them to restart what changed).
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
import tempfile
from datetime import datetime, timezone

MAX_NAMES_PER_CALL = 10  # GetParameters' limit


def load_config(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        config = json.load(handle)
    parameters = config.get("parameters", {})
    for name in parameters:
        if not name or "/" in name or name.startswith("."):
            raise SystemExit(f"ragstack-secrets: {path}: bad secret name {name!r}")
    return config


def read_parameters(region: str, parameters: dict[str, str]) -> dict[str, dict]:
    """name -> {value, version, modified} for every configured parameter, or exit."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    # Standard retries cover throttling and an endpoint or credentials source that is
    # not up yet at boot (about a minute at most).
    client = boto3.client(
        "ssm",
        region_name=region or None,
        config=Config(retries={"max_attempts": 8, "mode": "standard"}, connect_timeout=5),
    )
    by_parameter = {parameter: name for name, parameter in parameters.items()}
    found: dict[str, dict] = {}
    missing: list[str] = []
    wanted = sorted(by_parameter)
    try:
        for start in range(0, len(wanted), MAX_NAMES_PER_CALL):
            answer = client.get_parameters(
                Names=wanted[start : start + MAX_NAMES_PER_CALL], WithDecryption=True
            )
            for parameter in answer.get("Parameters", []):
                modified = parameter.get("LastModifiedDate")
                found[by_parameter[parameter["Name"]]] = {
                    "value": parameter["Value"],
                    "version": parameter.get("Version"),
                    "modified": modified.isoformat() if modified else None,
                }
            missing += answer.get("InvalidParameters", [])
    except NoCredentialsError:
        raise SystemExit(
            "ragstack-secrets: no AWS credentials (on EC2: the instance profile's role)"
        ) from None
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        raise SystemExit(f"ragstack-secrets: GetParameters failed: {code}") from None
    except BotoCoreError as error:
        raise SystemExit(
            f"ragstack-secrets: GetParameters failed: {type(error).__name__}"
        ) from None
    if missing:
        raise SystemExit(
            f"ragstack-secrets: SSM parameters not found: {', '.join(sorted(missing))}"
        )
    return found


def prepare_directory(directory: str) -> None:
    os.makedirs(directory, mode=0o700, exist_ok=True)
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode):
        raise SystemExit(f"ragstack-secrets: {directory} is not a directory")
    os.chown(directory, 0, 0)
    os.chmod(directory, 0o700)


def is_current(path: str, data: bytes, uid: int, gid: int) -> bool:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(info.st_mode) or (info.st_uid, info.st_gid) != (uid, gid):
        return False
    if stat.S_IMODE(info.st_mode) != 0o400:
        return False
    with open(path, "rb") as handle:
        return handle.read(len(data) + 1) == data


def write_atomically(directory: str, name: str, data: bytes, uid: int, gid: int) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
    try:
        os.fchmod(descriptor, 0o400)
        os.write(descriptor, data)
        os.fchown(descriptor, uid, gid)
        os.close(descriptor)
        descriptor = -1
        os.replace(temporary, os.path.join(directory, name))
    except BaseException:
        if descriptor >= 0:
            os.close(descriptor)
        os.unlink(temporary)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="JSON: region, directory, owner, group, status, parameters")
    config = load_config(parser.parse_args(argv).config)
    directory = config["directory"]
    uid, gid = int(config["owner"]), int(config["group"])
    parameters = config.get("parameters", {})

    found = read_parameters(config.get("region", ""), parameters) if parameters else {}

    prepare_directory(directory)
    written, removed = [], []
    for name in sorted(found):
        data = found[name]["value"].encode("utf-8")
        if not is_current(os.path.join(directory, name), data, uid, gid):
            write_atomically(directory, name, data, uid, gid)
            written.append(name)
    for entry in sorted(os.listdir(directory)):
        if entry not in found:
            os.unlink(os.path.join(directory, entry))
            removed.append(entry)

    status = {
        "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),  # noqa: UP017 (3.10)
        "directory": directory,
        "secrets": {
            name: {
                "parameter": parameters[name],
                "version": item["version"],
                "modified": item["modified"],
            }
            for name, item in sorted(found.items())
        },
        "written": written,
        "removed": removed,
    }
    if config.get("status"):
        os.makedirs(os.path.dirname(config["status"]), mode=0o755, exist_ok=True)
        with open(config["status"] + ".new", "w", encoding="utf-8") as handle:
            json.dump(status, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(config["status"] + ".new", config["status"])
    print(
        f"ragstack-secrets: {len(found)} secret(s) in {directory}"
        f"; written: {', '.join(written) or '-'}; removed: {', '.join(removed) or '-'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
