#!/usr/bin/env python3
"""A decoder for callvault's stored recordings, written from
schema/recording-object-format.md alone (no callvault code): what a
stranger holding the storage record, the blob store and the master key
needs to get a recording's plaintext back.

Needs the Python standard library, `cryptography` (AES-256-GCM) and, to
fetch objects and unwrap keys, boto3.

  decode.py vectors VECTORS.json
      Checks every vector: positive objects and ranges open to their
      plaintext, negative objects and wrapped keys are refused at the check
      the vector names. Exit status 0 when all behave.

  decode.py recording (--record RECORD.json | --sqlite STORAGE.db --tenant T --recording R)
                      (--s3-endpoint URL --bucket B | --fs-root DIR)
                      (--kms [--kms-endpoint URL] | --keyring KEYRING.json)
                      [--region R] --out PLAINTEXT
      Decrypts one stored recording and writes its plaintext. Fails (exit
      status 2, the check on stderr) when any check of the spec fails.
"""

import argparse
import hashlib
import hmac
import json
import sqlite3
import struct
import sys
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"CVRO"
HEADER_LEN = 75
TAG_LEN = 16
MIN_FRAME = 16
MAX_FRAME = 8388608
KEYRING_LABEL = b"callvault-keyring-v1"


class Refused(Exception):
    """A check failed: `kind` is format, integrity or range (the spec's
    error kinds), `check` the name of the check in the spec's table."""

    def __init__(self, kind, check, detail=""):
        super().__init__(f"{kind} error at check {check}: {detail}")
        self.kind, self.check = kind, check


# --- The object (spec: Header, Key derivation, Frames, Sizes and ranges) ---

def hkdf_sha512(salt, ikm, info, length=32):
    prk = hmac.new(salt, ikm, hashlib.sha512).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha512).digest()
        out += block
        counter += 1
    return out[:length]


def parse_header(obj):
    if len(obj) < HEADER_LEN:
        raise Refused("format", "header_length", f"{len(obj)} bytes")
    if obj[0:4] != MAGIC:
        raise Refused("format", "magic")
    if obj[4] != 1:
        raise Refused("format", "version", str(obj[4]))
    if obj[5:7] != b"\x00\x01":
        raise Refused("format", "suite", obj[5:7].hex())
    (frame_size,) = struct.unpack(">I", obj[7:11])
    if not MIN_FRAME <= frame_size <= MAX_FRAME:
        raise Refused("format", "frame_size", str(frame_size))
    return frame_size, obj[11:43], obj[43:75]


class Opened:
    """A checked header and its keys; frames are opened on demand."""

    def __init__(self, data_key, tenant, recording, header, object_len):
        frame_size, message_id, commitment = parse_header(header)
        suite_info = MAGIC + b"\x00\x01"
        content_key = hkdf_sha512(message_id, data_key, suite_info + b"content-key")
        expected = hkdf_sha512(message_id, data_key, suite_info + b"commitment")
        if not hmac.compare_digest(expected, commitment):
            raise Refused("integrity", "commitment", "wrong data key")
        body = object_len - HEADER_LEN
        sealed = frame_size + TAG_LEN
        if body < 0 or body % sealed < TAG_LEN:
            raise Refused("integrity", "object_length", f"{object_len} bytes")
        self.frame_size = frame_size
        self.sealed = sealed
        self.plaintext_len = (body // sealed) * frame_size + body % sealed - TAG_LEN
        self.frames = self.plaintext_len // frame_size + 1
        t, r = tenant.encode("utf-8"), recording.encode("utf-8")
        self.aad = header[:HEADER_LEN] + struct.pack(">H", len(t)) + t + struct.pack(">H", len(r)) + r
        self.aes = AESGCM(content_key)

    def frame_span(self, i):
        """Object bytes [start, end) of sealed frame i."""
        start = HEADER_LEN + i * self.sealed
        if i == self.frames - 1:
            return start, start + self.plaintext_len % self.frame_size + TAG_LEN
        return start, start + self.sealed

    def open_frame(self, i, sealed):
        final = i == self.frames - 1
        nonce = b"\x00\x00\x00" + struct.pack(">Q", i) + (b"\x01" if final else b"\x00")
        try:
            return self.aes.decrypt(nonce, sealed, self.aad)
        except InvalidTag:
            raise Refused("integrity", "frame_tag", f"frame {i}") from None

    def read(self, obj, start=None, end=None):
        """Plaintext [start, end) (all of it by default) from the object
        bytes, decrypting only the frames the range needs."""
        if start is None:
            # A whole read opens every frame, the final one included (even
            # an empty plaintext has its empty final frame to verify).
            return b"".join(self.open_frame(i, obj[a:b])
                            for i, (a, b) in ((i, self.frame_span(i)) for i in range(self.frames)))
        if not 0 <= start < end <= self.plaintext_len:
            raise Refused("range", "range", f"{start}..{end} of {self.plaintext_len}")
        first, last = start // self.frame_size, (end - 1) // self.frame_size
        out = bytearray()
        for i in range(first, last + 1):
            a, b = self.frame_span(i)
            out += self.open_frame(i, obj[a:b])
        skip = start - first * self.frame_size
        return bytes(out[skip:skip + end - start])


def open_object(data_key, tenant, recording, obj, start=None, end=None):
    opened = Opened(data_key, tenant, recording, obj, len(obj))
    return opened.read(obj, start, end)


# --- Keys (spec: The wrapped data key) ---

def encryption_context(tenant, recording):
    return {"tenant": tenant, "recording": recording, "purpose": "recording-body"}


def canonical_context(context):
    out = b""
    for key in sorted(context, key=lambda k: k.encode("utf-8")):
        for part in (key.encode("utf-8"), context[key].encode("utf-8")):
            out += struct.pack(">I", len(part)) + part
    return out


class InvalidWrappedKey(Exception):
    pass


def keyring_unwrap(keyring, key_ref, wrapped, tenant, recording):
    """The local keyring's unwrap: version, nonce, AES-256-GCM under that
    version's master key, with the documented AAD."""
    import base64

    entry = keyring["keys"].get(key_ref)
    if entry is None:
        raise InvalidWrappedKey(f"no keyring entry {key_ref}")
    if len(wrapped) != 64:
        raise InvalidWrappedKey("a wrapped key is 64 bytes")
    (version,) = struct.unpack(">I", wrapped[:4])
    materials = {v["version"]: base64.b64decode(v["material"]) for v in entry["versions"]}
    if version not in materials:
        raise InvalidWrappedKey(f"version {version} unknown")
    name = key_ref.encode("utf-8")
    aad = (KEYRING_LABEL + struct.pack(">I", len(name)) + name + struct.pack(">I", version)
           + canonical_context(encryption_context(tenant, recording)))
    try:
        return AESGCM(materials[version]).decrypt(wrapped[4:16], wrapped[16:], aad)
    except InvalidTag:
        raise InvalidWrappedKey("tag") from None


def kms_unwrap(kms, key_ref, wrapped, tenant, recording):
    try:
        answer = kms.decrypt(
            KeyId=key_ref,
            CiphertextBlob=wrapped,
            EncryptionContext=encryption_context(tenant, recording),
        )
    except (kms.exceptions.InvalidCiphertextException, kms.exceptions.IncorrectKeyException) as error:
        raise InvalidWrappedKey(str(error)) from None
    return answer["Plaintext"]


# --- The storage record (spec: The storage record) ---

def uuid_text(value):
    """A uuid column as its one text form, whichever way the database gave it."""
    if isinstance(value, (bytes, bytearray)) and len(value) == 16:
        return str(uuid.UUID(bytes=bytes(value)))
    return str(uuid.UUID(str(value)))


def record_from_sqlite(path, tenant, recording):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    for row in db.execute("SELECT * FROM storage_objects"):
        if uuid_text(row["tenant_id"]) == tenant and uuid_text(row["recording_id"]) == recording:
            return {
                "tenant_id": tenant,
                "recording_id": recording,
                "object_key": row["object_key"],
                "key_ref": row["key_ref"],
                "wrapped_key": row["wrapped_key"].hex() if row["wrapped_key"] is not None else None,
                "frame_size": row["frame_size"],
                "plaintext_len": row["plaintext_len"],
                "ciphertext_len": row["ciphertext_len"],
                "sha256": bytes(row["sha256"]).hex(),
                "state": row["state"],
            }
    raise SystemExit(f"no storage record for {tenant}/{recording}")


def decode_recording(record, fetch, unwrap):
    """The spec's decoding procedure, check by check."""
    tenant, recording = uuid_text(record["tenant_id"]), uuid_text(record["recording_id"])
    if record["state"] != "stored" or record["wrapped_key"] is None:
        raise Refused("shredded", "state", "the data key was destroyed")
    obj = fetch(record["object_key"])
    if len(obj) != record["ciphertext_len"]:
        raise Refused("integrity", "object_size", f"{len(obj)} != {record['ciphertext_len']}")
    try:
        data_key = unwrap(record["key_ref"], bytes.fromhex(record["wrapped_key"]), tenant, recording)
    except InvalidWrappedKey as error:
        raise Refused("integrity", "wrapped_key", str(error)) from None
    if len(data_key) != 32:
        raise Refused("integrity", "wrapped_key", "not a 32-byte data key")
    opened = Opened(data_key, tenant, recording, obj, len(obj))
    if opened.frame_size != record["frame_size"]:
        raise Refused("integrity", "record_frame_size", f"{opened.frame_size} != {record['frame_size']}")
    if opened.plaintext_len != record["plaintext_len"]:
        raise Refused("integrity", "record_plaintext_len", f"{opened.plaintext_len}")
    plaintext = opened.read(obj)
    if hashlib.sha256(plaintext).hexdigest() != record["sha256"]:
        raise Refused("integrity", "sha256")
    return plaintext


# --- Vectors ---

def pattern(n):
    return bytes(i % 251 for i in range(n))


def check_vectors(path):
    vectors = json.load(open(path))
    failures, passed = [], 0

    def expect(name, ok):
        nonlocal passed
        if ok:
            passed += 1
        else:
            failures.append(name)

    by_name = {}
    for v in vectors["objects"]:
        obj = bytes.fromhex(v["object"])
        by_name[v["name"]] = (v, obj)
        plaintext = bytes.fromhex(v["plaintext"]) if "plaintext" in v else pattern(v["plaintext_len"])
        try:
            got = open_object(bytes.fromhex(v["data_key"]), v["tenant"], v["recording"], obj)
            expect(v["name"], got == plaintext and hashlib.sha256(got).hexdigest() == v["plaintext_sha256"]
                   and len(obj) == v["object_len"])
        except Refused as error:
            expect(f"{v['name']}: {error}", False)
    for r in vectors["ranges"]:
        v, obj = by_name[r["object"]]
        name = f"{r['object']}[{r['start']}..{r['end']}]"
        try:
            got = open_object(bytes.fromhex(v["data_key"]), v["tenant"], v["recording"], obj, r["start"], r["end"])
            expect(name, got.hex() == r.get("plaintext"))
        except Refused as error:
            expect(f"{name}: {error}", (error.kind, error.check) == (r.get("error"), r.get("check")))
    for n in vectors["negative"]:
        try:
            open_object(bytes.fromhex(n["data_key"]), n["tenant"], n["recording"], bytes.fromhex(n["object"]))
            expect(f"{n['name']}: opened", False)
        except Refused as error:
            expect(f"{n['name']}: {error}", (error.kind, error.check) == (n["error"], n["check"]))
    context = vectors["encryption_context"]
    ours = encryption_context(context["tenant"], context["recording"])
    expect("kms encryption context", ours == context["kms"])
    expect("canonical context", canonical_context(ours).hex() == context["canonical"])
    keyring = vectors["keyring"]
    for w in keyring["wrapped"]:
        try:
            key = keyring_unwrap(keyring["keyring_file"], w["key_ref"], bytes.fromhex(w["wrapped_key"]),
                                 context["tenant"], context["recording"])
            expect(f"keyring v{w['version']}", key.hex() == w["data_key"])
        except InvalidWrappedKey as error:
            expect(f"keyring v{w['version']}: {error}", False)
    for n in keyring["negative"]:
        try:
            keyring_unwrap(keyring["keyring_file"], n["key_ref"], bytes.fromhex(n["wrapped_key"]),
                           n["tenant"], n["recording"])
            expect(f"keyring {n['name']}: unwrapped", False)
        except InvalidWrappedKey:
            expect(n["name"], True)
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    print(f"{passed} vectors behaved, {len(failures)} did not")
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    vec = sub.add_parser("vectors")
    vec.add_argument("file")
    rec = sub.add_parser("recording")
    rec.add_argument("--record")
    rec.add_argument("--sqlite")
    rec.add_argument("--tenant")
    rec.add_argument("--recording")
    rec.add_argument("--s3-endpoint")
    rec.add_argument("--bucket")
    rec.add_argument("--fs-root")
    rec.add_argument("--kms", action="store_true")
    rec.add_argument("--kms-endpoint")
    rec.add_argument("--keyring")
    rec.add_argument("--region", default="us-east-1")
    rec.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.command == "vectors":
        return check_vectors(args.file)

    if args.record:
        record = json.load(open(args.record))
    elif args.sqlite and args.tenant and args.recording:
        record = record_from_sqlite(args.sqlite, uuid_text(args.tenant), uuid_text(args.recording))
    else:
        parser.error("give --record, or --sqlite with --tenant and --recording")

    if args.bucket:
        import boto3
        from botocore.config import Config

        s3 = boto3.client("s3", endpoint_url=args.s3_endpoint, region_name=args.region,
                          config=Config(s3={"addressing_style": "path"}))

        def fetch(key):
            return s3.get_object(Bucket=args.bucket, Key=key)["Body"].read()
    elif args.fs_root:
        import os

        def fetch(key):
            with open(os.path.join(args.fs_root, "objects", key), "rb") as f:
                return f.read()
    else:
        parser.error("give --bucket (S3) or --fs-root (filesystem store)")

    if args.kms:
        import boto3

        kms = boto3.client("kms", endpoint_url=args.kms_endpoint, region_name=args.region)

        def unwrap(key_ref, wrapped, tenant, recording):
            return kms_unwrap(kms, key_ref, wrapped, tenant, recording)
    elif args.keyring:
        keyring = json.load(open(args.keyring))

        def unwrap(key_ref, wrapped, tenant, recording):
            return keyring_unwrap(keyring, key_ref, wrapped, tenant, recording)
    else:
        parser.error("give --kms or --keyring")

    try:
        plaintext = decode_recording(record, fetch, unwrap)
    except Refused as error:
        print(f"decode.py: refused: {error}", file=sys.stderr)
        return 2
    with open(args.out, "wb") as out:
        out.write(plaintext)
    print(f"decoded {len(plaintext)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
