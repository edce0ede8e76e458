#!/usr/bin/env python3
"""Regenerates the vault test vectors in this folder. Run from the repository root after
`cargo build`; needs stock `age`, `age-keygen` and `sqlite3`. The committed files are the
reference: regenerate only on a deliberate format change, and say so in the commit.

good_*.kluis open with passphrase.txt and hold the client names in good_*.expect.
fail_<code>_*.kluis must be refused with exit code <code> (3 wrong passphrase, 4 damaged).
"""
import base64, os, re, shutil, sqlite3, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
KLUIS = os.path.join(HERE, "..", "..", "target", "debug", "kluis")
PASS = open(os.path.join(HERE, "passphrase.txt")).read().strip()
WEAK = ["--kdf-memory", "8", "--kdf-iterations", "1", "--kdf-parallelism", "1"]


def kluis(vault, *args, stdin=None):
    env = dict(os.environ, KLUIS_PASSPHRASE=PASS, KLUIS_NEW_PASSPHRASE=PASS, LANG="C")
    out = subprocess.run([KLUIS, "--vault", vault, *args], env=env, input=stdin,
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def make(name, clients, recovery=None, note_kib=1):
    tmp = tempfile.mkdtemp()
    vault = os.path.join(tmp, "v.kluis")
    extra = ["--recovery-recipient", recovery] if recovery else []
    kluis(vault, "init", *WEAK, *extra)
    for i, c in enumerate(clients):
        cid = kluis(vault, "client", "add", "--name", c, "--domain", "wmo")
        kluis(vault, "note", "add", cid, "--kind", "visit", "--at", "2026-01-0%d 10:00" % (i + 1),
              stdin=("Notitie bij %s. " % c) * (note_kib * 40))
    shutil.copy(vault, os.path.join(HERE, name + ".kluis"))
    with open(os.path.join(HERE, name + ".expect"), "w") as f:
        f.write("".join(sorted(c + "\n" for c in clients)))
    shutil.rmtree(tmp)
    return open(os.path.join(HERE, name + ".kluis"), "rb").read()


def header_end(data):
    i = data.index(b"\n--- ")
    return data.index(b"\n", i + 1) + 1


def flip(data, offset, bit=0):
    b = bytearray(data)
    b[offset] ^= 1 << bit
    return bytes(b)


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def set_arg(data, index, value):
    end = header_end(data)
    header = data[:end].decode()
    line = re.search(r"^-> kluis-argon2id .*$", header, re.M).group(0)
    parts = line.split(" ")
    parts[2 + index] = value
    return (header.replace(line, " ".join(parts))).encode() + data[end:]


def main():
    key = os.path.join(HERE, "recovery.key")
    recipient = subprocess.run(["age-keygen", "-y", key], capture_output=True, text=True, check=True).stdout.strip()
    basic = make("good_basic", ["Fatima el Amrani", "Jan de Vries"])
    make("good_recovery", ["Herstel Test"], recovery=recipient)
    big = make("good_multichunk", ["Groot Dossier"], note_kib=200)

    end = header_end(basic)
    header = basic[:end].decode()
    body_line = header.split("\n")[2]  # the line after "-> kluis-argon2id ..."
    body_at = basic.index(body_line.encode())
    # The body's last base64 characters encode the AEAD tag: a changed tag means wrong key.
    write("fail_3_wrong_tag.kluis", basic[:body_at] + body_line[:-2].encode()
          + (b"A" if body_line[-2] != "A" else b"B") + body_line[-1:].encode() + basic[body_at + len(body_line):])
    salt = re.search(r"-> kluis-argon2id (\S+)", header).group(1)
    other_salt = base64.b64encode(bytes(16)).decode().rstrip("=")
    write("fail_3_other_salt.kluis", basic.replace(salt.encode(), other_salt.encode(), 1))
    mac_at = end - 10
    write("fail_4_header_mac.kluis", basic[:mac_at] + (b"A" if basic[mac_at:mac_at + 1] != b"A" else b"B") + basic[mac_at + 1:])
    write("fail_4_flipped_payload.kluis", flip(basic, end + 16 + 1000, 3))
    write("fail_4_truncated_chunk_boundary.kluis", big[:end_of(big) + 16 + 65536 + 16])
    write("fail_4_truncated_mid.kluis", big[:len(big) // 2])
    write("fail_4_truncated_header.kluis", basic[:end - 20])
    write("fail_4_appended_junk.kluis", basic + b"\x00junk")
    write("fail_4_over_cap_memory.kluis", set_arg(basic, 1, str(4 * 1024 * 1024 + 1)))
    write("fail_4_over_cap_iterations.kluis", set_arg(basic, 2, "33"))
    write("fail_4_over_cap_lanes.kluis", set_arg(basic, 3, "17"))
    write("fail_4_not_canonical_number.kluis", set_arg(basic, 2, "01"))
    stanza = header.split("\n")[1] + "\n" + body_line + "\n"
    write("fail_4_two_stanzas.kluis", basic.replace(stanza.encode(), (stanza * 2).encode(), 1))
    write("fail_4_not_age.kluis", b"Dit is gewoon een tekstbestand, geen kluis.\n")
    write("fail_4_empty.kluis", b"")
    tmp = tempfile.mkdtemp()
    db = os.path.join(tmp, "plain.sqlite")
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE client (name TEXT)")
    con.commit()
    con.close()
    shutil.copy(db, os.path.join(HERE, "fail_4_plain_sqlite.kluis"))
    subprocess.run(["age", "-r", recipient, "-o", os.path.join(HERE, "fail_4_age_x25519_only.kluis"), db], check=True)
    shutil.rmtree(tmp)


def end_of(data):
    return header_end(data)


if __name__ == "__main__":
    sys.exit(main())
