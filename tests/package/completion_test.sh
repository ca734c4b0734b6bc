#!/usr/bin/env bash
# The generated bash completion (build/share/keras64.bash, installed as
# share/bash-completion/completions/keras64) loads in a plain bash and completes subcommands,
# options, --to formats, checked choices and file names.
#   completion_test.sh COMPLETION_SCRIPT
set -uo pipefail
source "$1" || { echo "FAIL: $1 does not load"; exit 1; }
complete -p keras64 | grep -q -- "-F _keras64" || { echo "FAIL: keras64 not registered"; exit 1; }

failed=0
comp() {  # comp WORD... : COMPREPLY for the last word, sorted, on one line
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMPREPLY=()
  _keras64
  printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}
expect() {  # expect WANT WORD...
  local want=$1 got
  shift
  got=$(comp "$@")
  if [[ $got != "$want" ]]; then
    echo "FAIL: '$*': got '$got', want '$want'"
    failed=1
  fi
}
contains() {  # contains WORD COMPLETION-WORDS...: WORD is among the completions
  local word=$1 got
  shift
  got=" $(comp "$@") "
  if [[ $got != *" $word "* ]]; then
    echo "FAIL: '$*': '$word' not in '$got'"
    failed=1
  fi
}

expect "convert" keras64 con
expect "diff" keras64 di
expect "--help --version" keras64 --
for sub in inspect convert load diff verify; do contains "$sub" keras64 ""; done
expect "npz npz-deflate" keras64 convert m.keras -o w.npz --to npz
for fmt in npy npz npz-deflate memmap weights.h5 keras legacy-h5 safetensors tf-checkpoint; do
  contains "$fmt" keras64 convert m.keras --to ""
done
expect "all floats" keras64 convert m.keras --cast ""
expect "--threads --to" keras64 convert m.keras --t
contains "--include-optimizer" keras64 convert m.keras --
contains "--into" keras64 load w.npz --
contains "--json" keras64 inspect --
# Anything else is a file name.
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
touch "$dir/model.keras" "$dir/other.h5"
expect "$dir/model.keras" keras64 convert "$dir/mo"
expect "$dir/other.h5" keras64 convert "$dir/model.keras" -o "$dir/ot"

if ((failed)); then exit 1; fi
echo "bash completion: all checks passed"
