#!/usr/bin/env python3
"""Writes the bundle vectors about text that would steer a terminal (issue 20):
fail_4_esc_in_note.kluisb, fail_4_esc_in_name.kluisb, fail_4_c1_in_goal.kluisb,
fail_4_bel_in_assessment.kluisb, and their twin without the control characters,
twin_clean.kluisb, which must import (so the fail vectors are refused for their text, not
for anything else).

Run from the repository root: python3 tests/data/sync/make_text_vectors.py
Needs stock `age` and python3 with `cryptography`. Test keys only.

Each bundle is written by worker w002 of the vector organisation and addressed to w002, and
forwards the ops of good_1_basic (written by w001; forwarded ops keep their author), with a
goal and an assessment of w001 added. w002's keys come from the unsealed enrollment in
tests/fuzz/seeds/enrollment/w002.json.
"""

import base64
import copy
import hashlib
import json
import subprocess
import sys
import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

DATA = "tests/data/sync"
SIGN_CONTEXT = b"kluis.nl/v1/bundle\0"

enrollment = json.load(open("tests/fuzz/seeds/enrollment/w002.json"))
signing = Ed25519PrivateKey.from_private_bytes(base64.b64decode(enrollment["ed25519_secret"]))
recipient = enrollment["member"]["x25519"]
base = json.load(open("tests/fuzz/seeds/bundle_payload/good_1_basic.kluisb.json"))
roster = json.loads(json.load(open(f"{DATA}/roster.json"))["body"])

client = base["ops"][0]["client"]
last_ms = max(int(op["hlc"].split(".")[0]) for op in base["ops"])
created = "2026-11-22T19:52:30Z"


def record_op(n, kind, value):
    return {
        "id": str(uuid.UUID(int=0x01A204D1_0000_7000_8000_000000000000 + n)),
        "client": client,
        "field": f"{kind}/{value['id']}",
        "value": json.dumps(value, separators=(",", ":"), ensure_ascii=False),
        "prev": None,
        "hlc": f"{last_ms + n}.0000.w001",
        "author": "w001",
    }


def payload(note_body=None, name=None, goal_text=None, reason=None):
    p = copy.deepcopy(base)
    p["bundle"] = str(uuid.uuid4())
    if note_body is not None:
        p["notes"][0]["body"] = note_body
    if name is not None:
        p["ops"][0]["value"] = name
    goal = {
        "id": str(uuid.UUID(int=0x01A204D1_0000_7000_8000_0000000000A1)),
        "client_id": client,
        "domain": "financiën",
        "text": goal_text or "Schulden op een rij",
        "author": "Medewerker w001",
        "created_at": created,
    }
    assessment = {
        "id": str(uuid.UUID(int=0x01A204D1_0000_7000_8000_0000000000A2)),
        "client_id": client,
        "domain": "huisvesting",
        "score": 2,
        "reason": reason or "Huurachterstand",
        "at": "2026-11-20",
        "author": "Medewerker w001",
        "created_at": created,
    }
    p["ops"].append(record_op(1, "goal", goal))
    p["ops"].append(record_op(2, "assessment", assessment))
    return p


def bundle(name, p, seq):
    plain = json.dumps(p, separators=(",", ":"), ensure_ascii=False).encode()
    sealed = subprocess.run(
        ["age", "-r", recipient], input=plain, capture_output=True, check=True
    ).stdout
    header = {
        "kind": "kluis-bundle/v1",
        "id": p["bundle"],
        "author": "w002",
        "seq": seq,
        "created": created,
        "roster_version": roster["version"],
        "org_public_key": roster["org_public_key"],
        "recipients": ["w002"],
        "payload_sha256": hashlib.sha256(sealed).hexdigest(),
        "payload_len": len(sealed),
    }
    line = json.dumps(header, separators=(",", ":")).encode()
    sig = base64.b64encode(signing.sign(SIGN_CONTEXT + line))
    data = b"kluis-bundle/v1\n" + line + b"\n" + sig + b"\n" + sealed
    open(f"{DATA}/{name}.kluisb", "wb").write(data)


osc52 = "x\x1b]52;c;SGVsbG8=\x07\x1b[2J"
bundle("twin_clean", payload(), 101)
bundle("fail_4_esc_in_note", payload(note_body="Huisbezoek " + osc52), 102)
bundle("fail_4_esc_in_name", payload(name="Vector \x1b[2JCliënt"), 103)
bundle("fail_4_c1_in_goal", payload(goal_text="Schulden \u009b2J op een rij"), 104)
bundle("fail_4_bel_in_assessment", payload(reason="Huurachterstand\x07"), 105)
print("written", file=sys.stderr)
