#!/usr/bin/env python3
"""Independent reference implementation of schema/recording-object-format.md.

Written from the spec, not from the Rust code, so that the known-answer
vectors it produces (vectors.json) check that the spec and the Rust
implementation agree. Needs the `cryptography` package (moto brings it into
the test venv). Run: python3 reference.py > vectors.json
"""

import hashlib
import json
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
import hmac

MAGIC = b"CVRO"
SUITE = struct.pack(">H", 1)


def hkdf_sha512(salt: bytes, ikm: bytes, info: bytes) -> bytes:
    prk = hmac.new(salt, ikm, hashlib.sha512).digest()
    return HKDFExpand(hashes.SHA512(), 32, info).derive(prk)


def seal(dk: bytes, tenant: str, recording: str, frame_size: int, message_id: bytes, plaintext: bytes) -> bytes:
    content_key = hkdf_sha512(message_id, dk, MAGIC + SUITE + b"content-key")
    commitment = hkdf_sha512(message_id, dk, MAGIC + SUITE + b"commitment")
    header = MAGIC + bytes([1]) + SUITE + struct.pack(">I", frame_size) + message_id + commitment
    assert len(header) == 75
    t, r = tenant.encode(), recording.encode()
    aad = header + struct.pack(">H", len(t)) + t + struct.pack(">H", len(r)) + r
    n = len(plaintext) // frame_size + 1
    aes = AESGCM(content_key)
    out = bytearray(header)
    for i in range(n):
        chunk = plaintext[i * frame_size:(i + 1) * frame_size]
        final = i == n - 1
        nonce = b"\x00\x00\x00" + struct.pack(">Q", i) + (b"\x01" if final else b"\x00")
        out += aes.encrypt(nonce, chunk, aad)
    return bytes(out)


def pattern(n: int) -> bytes:
    return bytes(i % 251 for i in range(n))


def main() -> None:
    dk = bytes(range(32))
    message_id = bytes(0xA0 + i for i in range(32))
    tenant = "7d444840-9dc0-11d1-b245-5ffdce74fad2"
    recording = "0b9f6a3e-5c1d-4e8f-9a2b-3c4d5e6f7a8b"
    cases = [
        ("empty", 32, 0),
        ("one byte", 32, 1),
        ("exactly one frame", 32, 32),
        ("one frame plus one byte", 32, 33),
        ("several frames", 32, 100),
        ("default frame size, two frames plus one byte", 65536, 131073),
    ]
    vectors = []
    for name, frame_size, size in cases:
        plaintext = pattern(size)
        obj = seal(dk, tenant, recording, frame_size, message_id, plaintext)
        vector = {
            "name": name,
            "data_key": dk.hex(),
            "tenant": tenant,
            "recording": recording,
            "frame_size": frame_size,
            "message_id": message_id.hex(),
            "plaintext_len": size,
            "plaintext": "bytes i mod 251 for i in 0..plaintext_len",
            "object_len": len(obj),
            "object_sha256": hashlib.sha256(obj).hexdigest(),
        }
        if len(obj) <= 1024:
            vector["object"] = obj.hex()
        vectors.append(vector)
    print(json.dumps({"format": "CVRO v1", "vectors": vectors}, indent=2))


if __name__ == "__main__":
    main()
