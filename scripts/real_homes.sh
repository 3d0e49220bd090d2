#!/usr/bin/env bash
# The real homes of docs/DETECTION.md "Real recordings": fetch, convert, score.
#
#   scripts/real_homes.sh build [OUT]   fetch the public data, convert the eight homes into OUT (/tmp/real)
#   scripts/real_homes.sh rooms [OUT]   the seven homes with one home unit a room (/tmp/real-rooms; kasteren-b skipped;
#                                       sources from /tmp/real/src or REAL_HOMES_SRC, fetched if absent)
#   scripts/real_homes.sh score [OUT]   replay each home offline with this checkout's rules: its alerts
#                                       (all false: the data hold no falls), and the total of the seven
#                                       homes with a door sensor (elder-hourly is counted apart)
#
# build clones three public GitHub repositories (shallow, bare) into OUT/src; with REAL_HOMES_MIRROR
# set, it reads bare copies already there instead (REAL_HOMES_MIRROR/<owner>+<name>/repo). The data
# are not ours to redistribute: nothing here is committed. score takes the rules of this checkout,
# with any PINGAN_RULES__... overrides in the environment (README "Configuration").
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-$ROOT/.venv/bin/python}
export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}  # this checkout's code, also from a worktree sharing a venv
OUT=$(realpath -m "${2:-/tmp/real}")
HOMES=(kasteren-a kasteren-b kasteren-c mit-d mit-e ordonez-a ordonez-b)

repo() {  # the git dir of github.com/$1/$2
  local mirror="${REAL_HOMES_MIRROR:-}/$1+$2/repo" dir="$OUT/src/$1+$2"
  if [ -n "${REAL_HOMES_MIRROR:-}" ] && [ -d "$mirror" ]; then echo "$mirror"; return; fi
  [ -d "$dir" ] || git clone -q --bare --depth 1 "https://github.com/$1/$2" "$dir"
  echo "$dir"
}

build_sources() {  # the source files into $OUT/src
  mkdir -p "$OUT/src"
  local tl cd aai house=source/source-code/arf.experiments.wifi/housedata/input/HF_original
  tl=$(repo agnesvanbelle TL); cd=$(repo Anjin-Liu ConceptDriftDatasets); aai=$(repo maciano4 AAI_530_Project)
  for h in A B C D E; do git --git-dir="$tl" show "HEAD:$house/houseInfo$h/house$h-ss.txt" > "$OUT/src/house$h-ss.txt"; done
  for h in A B; do
    git --git-dir="$cd" show "HEAD:RealWorld/Drift Detection/activities_of_daily_living/Ordonez${h}_Sensors.txt" > "$OUT/src/ordonez$h.txt"
  done
  git --git-dir="$aai" show HEAD:Data/merged_df_clean.csv > "$OUT/src/elder-hourly.csv"
}

build() {
  build_sources
  local convert=("$PY" scripts/real_homes.py)
  "${convert[@]}" kasteren "$OUT/src/houseA-ss.txt" --home kasteren-a --door 12 --out "$OUT/kasteren-a.jsonl"
  "${convert[@]}" kasteren "$OUT/src/houseB-ss.txt" --home kasteren-b --door 7 --pir 16,19,28 --out "$OUT/kasteren-b.jsonl"
  "${convert[@]}" kasteren "$OUT/src/houseC-ss.txt" --home kasteren-c --door 28 --door-latch --pir 35,36 --out "$OUT/kasteren-c.jsonl"
  "${convert[@]}" kasteren "$OUT/src/houseD-ss.txt" --home mit-d --door 92 --out "$OUT/mit-d.jsonl"
  "${convert[@]}" kasteren "$OUT/src/houseE-ss.txt" --home mit-e --door 240 --out "$OUT/mit-e.jsonl"
  "${convert[@]}" ordonez "$OUT/src/ordonezA.txt" --home ordonez-a --out "$OUT/ordonez-a.jsonl"
  "${convert[@]}" ordonez "$OUT/src/ordonezB.txt" --home ordonez-b --out "$OUT/ordonez-b.jsonl"
  "${convert[@]}" hourly "$OUT/src/elder-hourly.csv" --home elder-hourly --out "$OUT/elder-hourly.jsonl"
}

rooms() {  # the seven homes, one pingan_cat a room (scripts/real_homes.py --units rooms)
  local src=${REAL_HOMES_SRC:-/tmp/real/src} tl house=source/source-code/arf.experiments.wifi/housedata/input/HF_original
  mkdir -p "$OUT/src"
  if [ ! -f "$src/houseA-ss.txt" ]; then build_sources; src=$OUT/src; fi
  tl=$(repo agnesvanbelle TL)
  for h in A B C D E; do git --git-dir="$tl" show "HEAD:$house/houseInfo$h/sensorMap$h-ids.txt" > "$OUT/src/sensorMap$h.txt"; done
  local convert=("$PY" scripts/real_homes.py) u=(--units rooms)
  "${convert[@]}" kasteren "$src/houseA-ss.txt" --home kasteren-a --door 12 "${u[@]}" --rooms "$OUT/src/sensorMapA.txt" --out "$OUT/kasteren-a.jsonl"
  # house B: sensors 20, 22-25 (548 activations) are not in its map: refused, so not written
  rm -f "$OUT/kasteren-b.jsonl" "$OUT/kasteren-b.jsonl.registry.yaml"
  "${convert[@]}" kasteren "$src/houseB-ss.txt" --home kasteren-b --door 7 --pir 16,19,28 "${u[@]}" --rooms "$OUT/src/sensorMapB.txt" --out "$OUT/kasteren-b.jsonl" \
    || echo "kasteren-b: skipped (a sensor without a room)"
  "${convert[@]}" kasteren "$src/houseC-ss.txt" --home kasteren-c --door 28 --door-latch --pir 35,36 "${u[@]}" --rooms "$OUT/src/sensorMapC.txt" --out "$OUT/kasteren-c.jsonl"
  "${convert[@]}" kasteren "$src/houseD-ss.txt" --home mit-d --door 92 "${u[@]}" --rooms "$OUT/src/sensorMapD.txt" --room-from prefix --out "$OUT/mit-d.jsonl"
  "${convert[@]}" kasteren "$src/houseE-ss.txt" --home mit-e --door 240 "${u[@]}" --rooms "$OUT/src/sensorMapE.txt" --room-from prefix --out "$OUT/mit-e.jsonl"
  "${convert[@]}" ordonez "$src/ordonezA.txt" --home ordonez-a "${u[@]}" --out "$OUT/ordonez-a.jsonl"
  "${convert[@]}" ordonez "$src/ordonezB.txt" --home ordonez-b "${u[@]}" --out "$OUT/ordonez-b.jsonl"
  # elder-hourly holds counts of the whole home: no room to give them
  [ -f "$OUT/elder-hourly.jsonl" ] || "${convert[@]}" hourly "$src/elder-hourly.csv" --home elder-hourly --out "$OUT/elder-hourly.jsonl"
}

alerts_of() {  # the number of alerts of one home's offline replay
  "$PY" -m pingan replay --offline "$OUT/$1.jsonl" --json | grep -o '"alerts": [0-9]*' | tail -1 | grep -o '[0-9]*$'
}

score() {
  local total=0 n
  for h in "${HOMES[@]}"; do
    if [ ! -f "$OUT/$h.jsonl" ]; then echo "$h -"; continue; fi  # not converted (rooms: kasteren-b)
    n=$(alerts_of "$h"); echo "$h $n"; total=$((total + n))
  done
  echo "total $total"
  echo "elder-hourly $(alerts_of elder-hourly)"
}

case "${1:-}" in
  build) build ;;
  rooms) OUT=$(realpath -m "${2:-/tmp/real-rooms}"); rooms ;;
  score) score ;;  # score /tmp/real-rooms: the rooms variant
  *) sed -n '2,14p' "$0"; exit 2 ;;
esac
