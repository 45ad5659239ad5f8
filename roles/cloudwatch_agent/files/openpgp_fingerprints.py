#!/usr/bin/env python3
# Copyright: ragstack maintainers
# Apache License 2.0 (see galaxy.yml)
"""Report the fingerprints of an armored OpenPGP public key.

    openpgp_fingerprints.py < amazon-cloudwatch-agent.gpg
    937616F3450B7D806CBD9725D58167303B789C72
    openpgp_fingerprints.py --json BASE64_OF_THE_ARMORED_KEY
    {"fingerprints": ["937616F3450B7D806CBD9725D58167303B789C72"], "error": ""}

tasks/inputs.yml runs the second form through a pipe lookup: on the controller, with
the controller's Python, no gpg, no module and no host involved. It always exits 0
there and reports a bad key in "error".

Decodes the ASCII armor (checking its CRC24 when present), walks the packets and
prints the v4 fingerprint (SHA-1 over 0x99, length and body of the public-key
packet, RFC 4880 section 12.2) of every primary key, in order. Anything that is not
an armored v4 public key block with a user ID exits 1 with the reason on stderr, so a
truncated or pasted-over key fails the input checks on the controller instead of on
the host after the stack exists. Signatures are not checked here: gpg does that on
the host, against the package.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import sys

BEGIN = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
END = "-----END PGP PUBLIC KEY BLOCK-----"
TAG_PUBLIC_KEY = 6
TAG_USER_ID = 13


class BadKeyError(ValueError):
    """The input is not a usable armored OpenPGP public key."""


def _crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def dearmor(text: str) -> bytes:
    """The binary packets of one armored public key block."""
    lines = [line.strip() for line in str(text).strip().splitlines()]
    if not lines or lines[0] != BEGIN:
        raise BadKeyError(f"not an armored OpenPGP public key: first line is not {BEGIN}")
    try:
        end = lines.index(END)
    except ValueError:
        raise BadKeyError(f"armored OpenPGP public key has no {END} line") from None
    body = lines[1:end]
    # Armor headers ("Version: ...") run up to the first blank line.
    if "" in body:
        body = body[body.index("") + 1 :]
    checksum = None
    if body and body[-1].startswith("="):
        checksum = body.pop()[1:]
    try:
        data = base64.b64decode("".join(body), validate=True)
    except (binascii.Error, ValueError) as error:
        raise BadKeyError(f"armored OpenPGP key is not valid base64: {error}") from None
    if checksum is not None:
        try:
            expected = int.from_bytes(base64.b64decode(checksum, validate=True), "big")
        except (binascii.Error, ValueError):
            raise BadKeyError("armored OpenPGP key has a malformed checksum") from None
        if _crc24(data) != expected:
            raise BadKeyError("armored OpenPGP public key fails its CRC24 checksum")
    if not data:
        raise BadKeyError("armored OpenPGP public key is empty")
    return data


def packets(data: bytes):
    """(tag, body) of every packet, old and new header formats."""
    pos = 0
    while pos < len(data):
        header = data[pos]
        if not header & 0x80:
            raise BadKeyError(f"OpenPGP packet at offset {pos} has no packet tag bit")
        if header & 0x40:  # new format
            tag = header & 0x3F
            first = data[pos + 1] if pos + 1 < len(data) else None
            if first is None:
                raise BadKeyError("OpenPGP packet header is truncated")
            if first < 192:
                length, pos = first, pos + 2
            elif first < 224:
                if pos + 2 >= len(data):
                    raise BadKeyError("OpenPGP packet header is truncated")
                length, pos = ((first - 192) << 8) + data[pos + 2] + 192, pos + 3
            elif first == 255:
                length, pos = int.from_bytes(data[pos + 2 : pos + 6], "big"), pos + 6
            else:
                raise BadKeyError("partial-length OpenPGP packets are not valid in a key")
        else:  # old format
            tag = (header >> 2) & 0x0F
            size = {0: 1, 1: 2, 2: 4}.get(header & 0x03)
            if size is None:
                raise BadKeyError("indeterminate-length OpenPGP packet in a key")
            length = int.from_bytes(data[pos + 1 : pos + 1 + size], "big")
            pos += 1 + size
        body = data[pos : pos + length]
        if len(body) != length:
            raise BadKeyError(f"OpenPGP packet (tag {tag}) is truncated")
        yield tag, body
        pos += length


def openpgp_fingerprints(text: str) -> list[str]:
    """Upper-case hex v4 fingerprints of the primary keys in an armored public key block."""
    found = []
    user_ids = 0
    for tag, body in packets(dearmor(text)):
        if tag == TAG_USER_ID:
            user_ids += 1
        if tag != TAG_PUBLIC_KEY:
            continue
        if not body or body[0] != 4:
            version = body[0] if body else "missing"
            raise BadKeyError(f"only v4 OpenPGP keys are supported, found version {version}")
        digest = hashlib.sha1(  # noqa: S324 - the v4 fingerprint is defined as SHA-1
            b"\x99" + len(body).to_bytes(2, "big") + body
        )
        found.append(digest.hexdigest().upper())
    if not found:
        raise BadKeyError("armored OpenPGP block holds no public key packet")
    if not user_ids:
        raise BadKeyError("OpenPGP public key has no user ID")
    return found


def main(argv: list[str]) -> int:
    if argv[:1] == ["--json"] and len(argv) == 2:
        try:
            text = base64.b64decode(argv[1], validate=True).decode("utf-8")
            result = {"fingerprints": openpgp_fingerprints(text), "error": ""}
        except (BadKeyError, binascii.Error, ValueError) as error:
            result = {"fingerprints": [], "error": str(error)}
        print(json.dumps(result))
        return 0
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        fingerprints = openpgp_fingerprints(sys.stdin.read())
    except BadKeyError as error:
        print(error, file=sys.stderr)
        return 1
    print("\n".join(fingerprints))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
