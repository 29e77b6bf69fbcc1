#!/usr/bin/env bash
# The real-sample clip set for the content CNN: labelled recordings from Debian packages (installed when missing,
# as scripts/install_deps.sh does), one clip per file, written as a clip list for `reckon content train|eval`.
#   scripts/make_clip_set.sh [OUT]      (default build/clips; writes OUT/clips.tsv)
# Sources: lmms-common (OGG samples in labelled folders; GPL-2+) and sonic-pi-samples (FLAC samples whose names
# give the class; CC0 for most, see /usr/share/doc/sonic-pi-samples/copyright). Classes (ours, pooling the
# packages' folders and name prefixes so that each has 25 or more clips):
#   drum        lmms drums; sonic-pi drum_*, bd_*, sn_*, perc_*
#   tabla       sonic-pi tabla_*
#   bass        lmms basses, bassloops; sonic-pi bass_*
#   instrument  lmms instruments; sonic-pi guit_*
#   pad         lmms stringsnpads; sonic-pi ambi_*
#   electronic  sonic-pi elec_*, glitch_*
#   loop        lmms beats, latin; sonic-pi loop_*
#   effect      lmms effects, misc; sonic-pi vinyl_*
# (lmms's single-cycle waveforms and shapes, and sonic-pi's mixed mehackit_* and misc_*, are left out.)
# Split per class (stratified): the class's files ordered by the cksum of their names, then every tenth file from
# the 8th on is valid and the 9th and 10th test (70/10/20). One recording is one clip, so no recording is on both
# sides.
set -euo pipefail
out="${1:-build/clips}"
cd "$(dirname "$0")/.."
scripts/install_deps.sh lmms-common sonic-pi-samples
lmms=/usr/share/lmms/samples
sonic=/usr/share/sonic-pi/samples
mkdir -p "$out"
list="$out/clips.tsv"
echo "# path<TAB>label<TAB>split: lmms-common and sonic-pi-samples (scripts/make_clip_set.sh)" > "$list"

rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
add() {  # file label
  printf '%s\t%s\t%s\n' "$2" "$(basename "$1" | cksum | cut -d' ' -f1)" "$1" >> "$rows"
}

for folder in drums:drum basses:bass bassloops:bass instruments:instrument stringsnpads:pad beats:loop latin:loop \
              effects:effect misc:effect; do
  for f in "$lmms/${folder%%:*}"/*.ogg; do add "$f" "${folder##*:}"; done
done
for f in "$sonic"/*.flac; do
  case "$(basename "$f")" in
    drum_*|bd_*|sn_*|perc_*) add "$f" drum ;;
    tabla_*) add "$f" tabla ;;
    bass_*) add "$f" bass ;;
    guit_*) add "$f" instrument ;;
    ambi_*) add "$f" pad ;;
    elec_*|glitch_*) add "$f" electronic ;;
    loop_*) add "$f" loop ;;
    vinyl_*) add "$f" effect ;;
  esac
done
sort -t$'\t' -k1,1 -k2,2n "$rows" | awk -F'\t' '{
  i = n[$1]++ % 10
  split_name = i < 7 ? "train" : i == 7 ? "valid" : "test"
  printf "%s\t%s\t%s\n", $3, $1, split_name
}' >> "$list"
echo "clips: $(grep -vc '^#' "$list") in $list"
cut -f2,3 "$list" | grep -v '^#' | sort | uniq -c | awk '{printf "  %-11s %-6s %s\n", $2, $3, $1}'
