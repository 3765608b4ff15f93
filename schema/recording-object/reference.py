#!/usr/bin/env python3
"""Independent reference implementation of schema/recording-object-format.md:
the generator of vectors.json.

Written from the spec, not from the Rust code, so that the known-answer
vectors it produces check that the spec and the Rust implementation agree
(`cargo test -p callvault-envelope` and `-p callvault-keys` read them; the
storage suite's spec_decoder test runs this script and compares its output
with the checked-in file, byte for byte). Needs only the Python standard
library and `cryptography` (moto brings it into the test venv).

    python3 reference.py > vectors.json
"""

import hashlib
import hmac
import json
import struct

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"CVRO"
VERSION = 1
SUITE = 1
HEADER_LEN = 75
TAG_LEN = 16

# Ids in their one text form: lowercase, hyphenated UUIDs.
TENANT = "7d444840-9dc0-11d1-b245-5ffdce74fad2"
RECORDING = "0b9f6a3e-5c1d-4e8f-9a2b-3c4d5e6f7a8b"
OTHER_TENANT = "9e2c1f3a-0b4d-4c5e-8f6a-7b8c9d0e1f2a"
OTHER_RECORDING = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"
DATA_KEY = bytes(range(32))
OTHER_DATA_KEY = bytes(range(1, 33))
MESSAGE_ID = bytes(0xA0 + i for i in range(32))
OTHER_MESSAGE_ID = bytes(0x60 + i for i in range(32))

# Plaintexts up to this size are written out; longer ones are given by
# their pattern and digest.
PLAINTEXT_HEX_LIMIT = 4096


def hkdf_sha512(salt: bytes, ikm: bytes, info: bytes, length: int = 32) -> bytes:
    """RFC 5869 with SHA-512: one extract, one expand."""
    prk = hmac.new(salt, ikm, hashlib.sha512).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha512).digest()
        out += block
        counter += 1
    return out[:length]


def derive(dk: bytes, message_id: bytes):
    prefix = MAGIC + struct.pack(">H", SUITE)
    content_key = hkdf_sha512(message_id, dk, prefix + b"content-key")
    commitment = hkdf_sha512(message_id, dk, prefix + b"commitment")
    return content_key, commitment


def header(frame_size: int, message_id: bytes, commitment: bytes) -> bytes:
    out = MAGIC + bytes([VERSION]) + struct.pack(">HI", SUITE, frame_size) + message_id + commitment
    assert len(out) == HEADER_LEN
    return out


def aad(head: bytes, tenant: str, recording: str) -> bytes:
    t, r = tenant.encode(), recording.encode()
    return head + struct.pack(">H", len(t)) + t + struct.pack(">H", len(r)) + r


def nonce(index: int, final: bool) -> bytes:
    return b"\x00\x00\x00" + struct.pack(">Q", index) + (b"\x01" if final else b"\x00")


def seal(dk, tenant, recording, frame_size, message_id, plaintext, final_flags=None):
    """The object for `plaintext`. `final_flags` overrides the final-frame
    flag of each frame (for negative vectors only)."""
    content_key, commitment = derive(dk, message_id)
    head = header(frame_size, message_id, commitment)
    frame_aad = aad(head, tenant, recording)
    n = len(plaintext) // frame_size + 1
    aes = AESGCM(content_key)
    out = bytearray(head)
    for i in range(n):
        chunk = plaintext[i * frame_size:(i + 1) * frame_size]
        final = (i == n - 1) if final_flags is None else final_flags[i]
        out += aes.encrypt(nonce(i, final), chunk, frame_aad)
    return bytes(out)


def pattern(n: int) -> bytes:
    return bytes(i % 251 for i in range(n))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def frames_of(obj: bytes, frame_size: int):
    """Header and sealed frames of a well-formed object."""
    body = obj[HEADER_LEN:]
    size = frame_size + TAG_LEN
    return obj[:HEADER_LEN], [body[i:i + size] for i in range(0, len(body), size)]


def flip(data: bytes, at: int, mask: int = 0x01) -> bytes:
    out = bytearray(data)
    out[at] ^= mask
    return bytes(out)


def positive_vectors():
    cases = [
        ("empty", 32, 0),
        ("one byte", 32, 1),
        ("exactly one frame", 32, 32),
        ("one frame plus one byte", 32, 33),
        ("several frames", 32, 100),
        ("several full frames and an empty final frame", 16, 64),
        ("many frames", 64, 1000),
        ("default frame size, two frames plus one byte", 65536, 131073),
    ]
    vectors = []
    for name, frame_size, size in cases:
        plaintext = pattern(size)
        obj = seal(DATA_KEY, TENANT, RECORDING, frame_size, MESSAGE_ID, plaintext)
        vector = {
            "name": name,
            "data_key": DATA_KEY.hex(),
            "tenant": TENANT,
            "recording": RECORDING,
            "frame_size": frame_size,
            "message_id": MESSAGE_ID.hex(),
            "frames": size // frame_size + 1,
            "plaintext_len": size,
            "plaintext_sha256": sha256(plaintext),
        }
        if size <= PLAINTEXT_HEX_LIMIT:
            vector["plaintext"] = plaintext.hex()
        else:
            vector["plaintext_pattern"] = "byte i is i mod 251, for i in 0 .. plaintext_len"
        vector.update({
            "object_len": len(obj),
            "object_sha256": sha256(obj),
            "object": obj.hex(),
        })
        vectors.append(vector)
    return vectors


def range_vectors():
    """Plaintext ranges [start, end) of the "several frames" object (F = 32,
    P = 100) and of the empty one."""
    plaintext = pattern(100)
    vectors = []
    for start, end in [(0, 1), (0, 100), (31, 33), (32, 64), (40, 41), (96, 100), (99, 100)]:
        vectors.append({
            "object": "several frames", "start": start, "end": end,
            "plaintext": plaintext[start:end].hex(),
        })
    for start, end in [(100, 101), (50, 101), (10, 10), (60, 50), (200, 300)]:
        vectors.append({
            "object": "several frames", "start": start, "end": end,
            "error": "range", "check": "range",
        })
    vectors.append({"object": "empty", "start": 0, "end": 1, "error": "range", "check": "range"})
    return vectors


def negative_vectors():
    """Objects (or contexts) a decoder must refuse, each derived from the
    "several frames" object: F = 32, P = 100, frames of 32, 32, 32 and a
    final frame of 4 bytes (sealed 48, 48, 48, 20)."""
    F = 32
    plaintext = pattern(100)
    base = seal(DATA_KEY, TENANT, RECORDING, F, MESSAGE_ID, plaintext)
    head, frames = frames_of(base, F)
    assert [len(f) for f in frames] == [48, 48, 48, 20]
    other = seal(DATA_KEY, TENANT, RECORDING, F, OTHER_MESSAGE_ID, plaintext)

    def join(h, fs):
        return h + b"".join(fs)

    def header_with(offset, value):
        out = bytearray(head)
        out[offset:offset + len(value)] = value
        return bytes(out)

    cases = [
        # (name, object, error, check, tenant, recording, data key)
        ("empty object", b"", "format", "header_length"),
        ("truncated header: 74 bytes", base[:74], "format", "header_length"),
        ("wrong magic", header_with(0, b"CVRX") + base[75:], "format", "magic"),
        ("unknown version 2", header_with(4, b"\x02") + base[75:], "format", "version"),
        ("unknown version 0", header_with(4, b"\x00") + base[75:], "format", "version"),
        ("unknown suite 00 02", header_with(5, b"\x00\x02") + base[75:], "format", "suite"),
        ("frame size 15", header_with(7, struct.pack(">I", 15)) + base[75:], "format", "frame_size"),
        ("frame size 0", header_with(7, struct.pack(">I", 0)) + base[75:], "format", "frame_size"),
        ("frame size 8388609", header_with(7, struct.pack(">I", 8388609)) + base[75:], "format", "frame_size"),
        ("wrong data key", base, "integrity", "commitment", {"data_key": OTHER_DATA_KEY}),
        ("flipped commitment byte", flip(base, 43 + 7), "integrity", "commitment"),
        ("flipped message id byte", flip(base, 11 + 3), "integrity", "commitment"),
        ("header only, no final frame", base[:75], "integrity", "object_length"),
        ("truncated inside the final frame's tag", base[:-5], "integrity", "object_length"),
        ("truncated at a frame boundary: final frame dropped", join(head, frames[:3]), "integrity", "object_length"),
        ("truncated at a frame boundary: two frames kept", join(head, frames[:2]), "integrity", "object_length"),
        ("extended by 29 bytes: a partial frame after the final one", base + bytes(29), "integrity", "object_length"),
        ("truncated last frame: 2 bytes cut", base[:-2], "integrity", "frame_tag"),
        ("extended by one byte", base + b"\x00", "integrity", "frame_tag"),
        ("appended a copy of frame 0", join(head, frames + [frames[0]]), "integrity", "frame_tag"),
        ("frames 0 and 1 swapped", join(head, [frames[1], frames[0], frames[2], frames[3]]), "integrity", "frame_tag"),
        ("frames 1 and 2 swapped", join(head, [frames[0], frames[2], frames[1], frames[3]]), "integrity", "frame_tag"),
        ("frame 0 duplicated over frame 1", join(head, [frames[0], frames[0], frames[2], frames[3]]), "integrity", "frame_tag"),
        ("flipped ciphertext byte in frame 2", flip(base, 75 + 2 * 48 + 5), "integrity", "frame_tag"),
        ("flipped tag byte of frame 0", flip(base, 75 + 32 + 3, 0x80), "integrity", "frame_tag"),
        ("flipped tag byte of the final frame", flip(base, len(base) - 1), "integrity", "frame_tag"),
        ("frame size 48 within bounds", header_with(7, struct.pack(">I", 48)) + base[75:], "integrity", "frame_tag"),
        ("another object's header over these frames", other[:75] + base[75:], "integrity", "frame_tag"),
        ("opened as another tenant's", base, "integrity", "frame_tag", {"tenant": OTHER_TENANT}),
        ("opened as another recording's", base, "integrity", "frame_tag", {"recording": OTHER_RECORDING}),
        ("tenant id in upper case", base, "integrity", "frame_tag", {"tenant": TENANT.upper()}),
        ("final frame sealed without the final flag",
         seal(DATA_KEY, TENANT, RECORDING, F, MESSAGE_ID, plaintext, [False] * 4), "integrity", "frame_tag"),
        ("first frame sealed with the final flag",
         seal(DATA_KEY, TENANT, RECORDING, F, MESSAGE_ID, plaintext, [True, False, False, True]), "integrity", "frame_tag"),
        ("empty plaintext sealed without the final flag",
         seal(DATA_KEY, TENANT, RECORDING, F, MESSAGE_ID, b"", [False]), "integrity", "frame_tag"),
    ]
    vectors = []
    for case in cases:
        name, obj, error, check = case[:4]
        overrides = case[4] if len(case) > 4 else {}
        vectors.append({
            "name": name,
            "data_key": overrides.get("data_key", DATA_KEY).hex(),
            "tenant": overrides.get("tenant", TENANT),
            "recording": overrides.get("recording", RECORDING),
            "object": obj.hex(),
            "error": error,
            "check": check,
        })
    return vectors


def encryption_context(tenant: str, recording: str) -> dict:
    return {"tenant": tenant, "recording": recording, "purpose": "recording-body"}


def canonical_context(context: dict) -> bytes:
    """Sorted by key (bytewise), each key and value as a u32 length and its
    UTF-8 bytes."""
    out = b""
    for key in sorted(context, key=lambda k: k.encode()):
        for part in (key.encode(), context[key].encode()):
            out += struct.pack(">I", len(part)) + part
    return out


def keyring_aad(name: str, version: int, context: dict) -> bytes:
    n = name.encode()
    return b"callvault-keyring-v1" + struct.pack(">I", len(n)) + n + struct.pack(">I", version) + canonical_context(context)


def keyring_vectors():
    import base64

    name = f"tenant/{TENANT}"
    masters = [bytes(0x40 + i for i in range(32)), bytes(0x80 + i for i in range(32))]
    keyring_file = {
        "format": 1,
        "keys": {
            name: {
                "versions": [
                    {"version": i + 1, "material": base64.b64encode(m).decode()}
                    for i, m in enumerate(masters)
                ]
            }
        },
    }
    context = encryption_context(TENANT, RECORDING)
    wraps = []
    for version, nonce_bytes in [(1, bytes(range(0xC0, 0xCC))), (2, bytes(range(0xD0, 0xDC)))]:
        ad = keyring_aad(name, version, context)
        sealed = AESGCM(masters[version - 1]).encrypt(nonce_bytes, DATA_KEY, ad)
        wrapped = struct.pack(">I", version) + nonce_bytes + sealed
        assert len(wrapped) == 64
        wraps.append({
            "key_ref": name,
            "version": version,
            "nonce": nonce_bytes.hex(),
            "aad": ad.hex(),
            "wrapped_key": wrapped.hex(),
            "data_key": DATA_KEY.hex(),
        })
    good = bytes.fromhex(wraps[0]["wrapped_key"])
    negative = [
        ("flipped tag byte", flip(good, 63), TENANT, RECORDING, name),
        ("version 3, which the key never had", struct.pack(">I", 3) + good[4:], TENANT, RECORDING, name),
        ("version edited from 1 to 2", struct.pack(">I", 2) + good[4:], TENANT, RECORDING, name),
        ("63 bytes", good[:63], TENANT, RECORDING, name),
        ("unwrapped as another recording's", good, TENANT, OTHER_RECORDING, name),
        ("unwrapped as another tenant's", good, OTHER_TENANT, RECORDING, name),
    ]
    return {
        "keyring_file": keyring_file,
        "wrapped": wraps,
        "negative": [
            {"name": n, "wrapped_key": w.hex(), "tenant": t, "recording": r, "key_ref": k,
             "error": "invalid_ciphertext"}
            for n, w, t, r, k in negative
        ],
    }


def main() -> None:
    context = encryption_context(TENANT, RECORDING)
    out = {
        "format": "CVRO v1",
        "spec": "schema/recording-object-format.md",
        "generated_by": "schema/recording-object/reference.py",
        "objects": positive_vectors(),
        "ranges": range_vectors(),
        "negative": negative_vectors(),
        "encryption_context": {
            "tenant": TENANT,
            "recording": RECORDING,
            "kms": context,
            "canonical": canonical_context(context).hex(),
        },
        "keyring": keyring_vectors(),
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
