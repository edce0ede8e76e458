#!/usr/bin/env bash
# Regenerates the bundle test vectors in this folder (run from the repository root after
# `cargo build`). Regenerate only on a deliberate format change, and say so in the commit.
# Needs python3 for the byte-level tampering.
set -euo pipefail
K=${KLUIS:-$PWD/target/debug/kluis}
out=$PWD/tests/data/sync
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LANG=C KLUIS_ORG_PASSPHRASE="Rood-Paard-Zeilboot-Kaasschaaf-19"
export KLUIS_PASSPHRASE="Zonnebloem-Kraanwater-47-Lantaarn" KLUIS_NEW_PASSPHRASE="Zonnebloem-Kraanwater-47-Lantaarn"
W=(--kdf-memory 8 --kdf-iterations 1 --kdf-parallelism 1)

"$K" org init --dir "$tmp/org" --name "Gemeente Vectoren" "${W[@]}"
for w in w001 w002 w003; do
  "$K" org issue --dir "$tmp/org" --id "$w" --name "Medewerker $w" --team wijkteam \
    --out "$tmp/$w.enroll" "${W[@]}" | tail -n 1 > "$tmp/$w.code"
done
for w in w001 w003; do
  KLUIS_ENROLL_CODE=$(cat "$tmp/$w.code") "$K" --vault "$tmp/$w.kluis" init --enroll "$tmp/$w.enroll" "${W[@]}" > /dev/null
done
"$K" org roster --dir "$tmp/org" --out "$tmp/roster1.json"
"$K" --vault "$tmp/w001.kluis" roster import "$tmp/roster1.json"

a=(--vault "$tmp/w001.kluis")
c=(--vault "$tmp/w003.kluis")
mkdir "$tmp/b1" "$tmp/b2" "$tmp/b3" "$tmp/b4" "$tmp/b5"
id=$("$K" "${a[@]}" client add --name "Vector Cliënt" --domain wmo --opened-on 2026-01-05)
"$K" "${a[@]}" note add "$id" --kind huisbezoek --at "2026-01-06 10:00" --text "Eerste huisbezoek (testvector)."
"$K" "${a[@]}" client assign "$id" w002
"$K" "${a[@]}" export --out "$tmp/b1" > /dev/null
"$K" "${a[@]}" client edit "$id" --name "Vector Cliënt-Jansen" --phone "06-12345678"
"$K" "${a[@]}" export --out "$tmp/b2" > /dev/null
other=$("$K" "${a[@]}" client add --name "Alleen Voor W003")
"$K" "${a[@]}" client assign "$other" w003
"$K" "${a[@]}" export --out "$tmp/b3" --client "$other" > /dev/null
mine=$("$K" "${c[@]}" client add --name "Van W003")
"$K" "${c[@]}" client assign "$mine" w002
"$K" org revoke --dir "$tmp/org" w003 --reason "testvector"
sleep 2
"$K" org roster --dir "$tmp/org" --out "$tmp/roster.json"
"$K" "${c[@]}" export --out "$tmp/b4" > /dev/null

rm -f "$out"/*.kluisb "$out"/*.expect
cp "$tmp/roster.json" "$out/roster.json"
cp "$tmp/w002.enroll" "$out/w002.enroll"
cp "$tmp/w002.code" "$out/w002.code"
cp "$tmp"/b1/*.kluisb "$out/good_1_basic.kluisb"
cp "$tmp"/b2/*.kluisb "$out/good_2_edit.kluisb"
cp "$tmp"/b3/*.kluisb "$out/fail_4_not_for_me.kluisb"
cp "$tmp"/b4/*.kluisb "$out/fail_4_revoked_author.kluisb"
printf '%s\n' "Vector Cliënt-Jansen" > "$out/good.expect"

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
good = open(f"{out}/good_1_basic.kluisb", "rb").read()
magic, header, sig, payload = good.split(b"\n", 3)
def write(name, data):
    open(f"{out}/{name}.kluisb", "wb").write(data)
def flip(data, at):
    b = bytearray(data); b[at] ^= 0x01; return bytes(b)
write("fail_4_not_a_bundle", b"hello\n")
write("fail_4_empty", b"")
write("fail_4_flipped_magic", flip(good, 2))
write("fail_4_flipped_signature", magic + b"\n" + header + b"\n" + flip(sig, 10) + b"\n" + payload)
write("fail_4_flipped_payload", flip(good, len(good) - 40))
write("fail_4_truncated", good[:-17])
write("fail_4_appended_junk", good + b"junk")
h = json.loads(header)
h["author"] = "w999"
write("fail_4_unknown_author", magic + b"\n" + json.dumps(h, separators=(",", ":")).encode() + b"\n" + sig + b"\n" + payload)
h = json.loads(header)
h["recipients"] = ["w002"]
write("fail_4_recipients_changed", magic + b"\n" + json.dumps(h, separators=(",", ":")).encode() + b"\n" + sig + b"\n" + payload)
h = json.loads(header)
h["extra"] = 1
write("fail_4_unknown_header_field", magic + b"\n" + json.dumps(h, separators=(",", ":")).encode() + b"\n" + sig + b"\n" + payload)
write("fail_4_header_too_long", magic + b"\n" + b" " * 70000 + header + b"\n" + sig + b"\n" + payload)
PY
ls "$out"
