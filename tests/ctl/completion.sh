#!/bin/bash
# tests/ctl/completion.sh COMPLETION_FILE METHODS_DEF -- packaging/bash-completion/patronctl completes
# commands, import kinds, per-command options, --format values and exactly the methods of
# protocol/methods.def after `call`. bash-completion's helpers
# (_init_completion, _filedir) are stubbed, so the package need not be installed.
set -u
fails=0
ok()   { echo "ok   $1"; }
fail() { echo "FAIL $1"; fails=$((fails + 1)); }
_init_completion() { cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }
_filedir() { COMPREPLY=(FILES); }
# shellcheck source=/dev/null
source "$1" || { echo "FAIL: cannot source $1"; exit 1; }
complete -p patronctl >/dev/null && ok "registered for patronctl" || fail "not registered"
try() {  # try "WANTED WORDS" word...
    local want=$1; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
    _patronctl
    local got=" ${COMPREPLY[*]} " w
    for w in $want; do
        [[ $got == *" $w "* ]] || { fail "'$*' -> '${COMPREPLY[*]}' lacks $w"; return; }
    done
    ok "'$*' -> ${COMPREPLY[*]}"
}
try "import" patronctl imp
try "backup restore import" patronctl -s /x.sock ""
try "restore" patronctl -s /x.sock rest
try "orders customers products" patronctl import ""
try "--window --max-errors --currency" patronctl import orders f.csv --
try "csv ndjson" patronctl import orders f.csv --format ""
try "table json" patronctl report --format ""
try "--html --from" patronctl report --
try "--force --data-dir" patronctl restore --
# every method of protocol/methods.def, and nothing else
COMP_WORDS=(patronctl call ""); COMP_CWORD=2; COMPREPLY=(); _patronctl
want=$(sed -n 's/^XX([a-z_]*, *"\([a-z_.]*\)".*/\1/p' "$2" | sort | tr '\n' ' ')
got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ')
[ -n "$want" ] && [ "$want" = "$got" ] && ok "call completes the methods of methods.def" ||
    fail "call methods: completion '$got' vs methods.def '$want'"
[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all passed"
