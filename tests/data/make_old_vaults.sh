#!/usr/bin/env bash
# Makes tests/data/old_<commit>.kluis: a small vault written by the kluis binary of an earlier
# commit of main, for the test that upgrades such vaults (migrations 0005 and 0006 were edited
# after they landed; see tests/data/README.md). Usage, from the repository root:
#
#   git worktree add --detach /tmp/old-17d4321 17d4321
#   (cd /tmp/old-17d4321 && cargo build --release --locked)
#   tests/data/make_old_vaults.sh /tmp/old-17d4321/target/release/kluis 17d4321
#   git worktree remove /tmp/old-17d4321
#
# Regenerate only on purpose: the point of these files is that they were written by old code.
# It needs tmux (the only way those binaries write a draft is the terminal app's note editor).
set -euo pipefail

bin=$(realpath "$1")
commit=$2
data=$(cd "$(dirname "$0")" && pwd)
out="$data/old_$commit.kluis"
[ ! -e "$out" ] || { echo "$out exists; remove it first" >&2; exit 1; }

# A home of its own, so no config file or vault of the person running this is used.
home=$(mktemp -d)
trap 'tmux -L "kluis-old-$$" kill-server 2>/dev/null || true; rm -rf "$home"' EXIT
export HOME="$home" XDG_CONFIG_HOME="$home/.config" XDG_DATA_HOME="$home/.local/share"
unset KLUIS_CONFIG KLUIS_VAULT KLUIS_LANG
export LANG=C.UTF-8 KLUIS_VAULT="$home/old.kluis"
pass=$(head -n1 "$data/passphrase.txt")
export KLUIS_NEW_PASSPHRASE="$pass" KLUIS_PASSPHRASE="$pass"
# The canary of tests/it (CANARY): present in the vault's plaintext, never on disk in clear.
canary=KANARIE-9d41c7e2

has() { "$bin" --lang en "$@" --help >/dev/null 2>&1; }

# Also encrypted to the test recovery key, so stock `age -d -i recovery.key` + `sqlite3` show
# exactly what schema the old code wrote.
"$bin" --lang en init --author "Wim Werker" \
    --kdf-memory 8 --kdf-iterations 1 --kdf-parallelism 1 \
    --recovery-recipient "$(age-keygen -y "$data/recovery.key")"
id=$("$bin" --lang en client add --name "Fatima $canary el Amrani" --bsn 111222333 \
    --birth-date 1980-03-14 --address "Dorpsstraat 1, Lelystad" --phone 0612345678 \
    --domain schuldhulp --opened-on 2026-01-05)
"$bin" --lang en note add "$id" --kind huisbezoek --at "2026-01-05 10:00" \
    --text "Keukentafelgesprek over de schulden; $canary gewone notitie"
"$bin" --lang en note add "$id" --kind telefoon --at "2026-01-06 09:30" --special \
    --text "Huisarts belde over de gezondheid; $canary bijzondere notitie"
if has consent add --special; then special=(--special); else special=(); fi
"$bin" --lang en consent add "$id" --org GGD --purpose jeugdgezondheid --scope notes \
    --given 2026-01-05 --until 2027-06-30 "${special[@]}"
if has household add; then
    "$bin" --lang en household add "$id" --name "Lotte $canary" --relation kind \
        --birth-date 2015-06-01
    "$bin" --lang en contact add "$id" --name "Dokter Jansen" --org Huisartsenpraktijk \
        --role huisarts --phone 0320123456
    goal=$("$bin" --lang en plan goal add "$id" --domain financiën \
        --text "Schulden op een rij $canary")
    "$bin" --lang en plan action add "$goal" --text "Brieven sorteren" --due 2026-12-01
    "$bin" --lang en assess "$id" --domain huisvesting --score 2 --reason "Huurachterstand" \
        --at 2026-01-05
fi

# A draft: open the client's dossier in the terminal app, start a note, type, quit (Ctrl-Q
# keeps the editor's text in the draft table).
sock="kluis-old-$$"
tmux -L "$sock" new-session -d -x 120 -y 35 \
    "env LANG=en_US.UTF-8 '$bin' --lang en; echo kluis-exited-\$?; sleep 60"
wait_for() {
    for _ in $(seq 300); do
        tmux -L "$sock" capture-pane -p | grep -qF "$1" && return 0
        sleep 0.1
    done
    echo "never saw '$1':" >&2
    tmux -L "$sock" capture-pane -p >&2
    exit 1
}
wait_for "Passphrase:"
tmux -L "$sock" send-keys -l "$pass"
tmux -L "$sock" send-keys Enter
wait_for "Fatima"
tmux -L "$sock" send-keys Enter
wait_for "Dorpsstraat"
tmux -L "$sock" send-keys n
sleep 1
tmux -L "$sock" send-keys -l "Concept $canary nog niet af"
sleep 0.5
tmux -L "$sock" send-keys C-q
wait_for "kluis-exited-0"

# Every command folds the journal into the vault when it ends, leaving only the journal's
# 24-byte header (docs/journal-format.md); the fixture is the vault alone.
if [ "$(stat -c %s "$KLUIS_VAULT.journal" 2>/dev/null || echo 0)" -gt 24 ]; then
    echo "the journal was not folded into the vault" >&2
    exit 1
fi
"$bin" --lang en check
cp "$KLUIS_VAULT" "$out"
echo "wrote $out (client $id)"
