#!/usr/bin/env bash
# The real-sample clip sets for the content CNN, from Debian packages (installed when missing, as
# scripts/install_deps.sh does), written as clip lists for `reckon content train|eval`:
#   scripts/make_clip_set.sh [OUT]      (default build/clips; writes OUT/clips.tsv and OUT/gm.tsv with OUT/gm/*.wav)
# gm.tsv: the 128 General MIDI instruments of timgm6mb-soundfont (real sampled timbres; GPL-2) rendered by
# fluidsynth playing an arpeggio (root, third, fifth, octave; a quarter note each at 120 bpm) from C3 and from C5:
# two clips per instrument, labelled by the instrument's GM family (piano, chromatic percussion, organ, guitar,
# bass, strings, ensemble, brass, reed, pipe, synth lead, synth pad, synth effects, ethnic, percussive, sound
# effects). Split by instrument: the family's instruments 1-5 train, 6 valid, 7-8 test, so both clips of one
# instrument are on the same side.
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
scripts/install_deps.sh lmms-common sonic-pi-samples fluidsynth timgm6mb-soundfont
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

# General MIDI: a format-0 MIDI file per (instrument, register), rendered at 22,050 Hz.
families=(piano chromatic organ guitar bass strings ensemble brass reed pipe synth-lead synth-pad synth-effects
          ethnic percussive sound-effects)
soundfont=/usr/share/sounds/sf2/TimGM6mb.sf2
mkdir -p "$out/gm"
gm="$out/gm.tsv"
echo "# path<TAB>label<TAB>split: General MIDI instruments of timgm6mb-soundfont (scripts/make_clip_set.sh)" > "$gm"
byte() { printf "\\x$(printf %02x "$1")"; }
write_midi() {  # program root file
  {
    printf 'MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk\x00\x00\x00\x27'
    printf '\x00\xc0'; byte "$1"
    for step in 0 4 7 12; do
      printf '\x00\x90'; byte $(($2 + step)); printf '\x64\x60\x80'; byte $(($2 + step)); printf '\x40'
    done
    printf '\x00\xff\x2f\x00'
  } > "$3"
}
for program in $(seq 0 127); do
  family=${families[$((program / 8))]}
  case $((program % 8)) in 5) split=valid ;; 6|7) split=test ;; *) split=train ;; esac
  for root in 48 72; do
    name=$(printf 'gm%03d_%s_%d' "$program" "$family" "$root")
    write_midi "$program" "$root" "$out/gm/$name.mid"
    timeout 60 fluidsynth -ni -q -g 1.0 -r 22050 -F "$out/gm/$name.wav" "$soundfont" "$out/gm/$name.mid" >/dev/null 2>&1
    rm -f "$out/gm/$name.mid"
    printf 'gm/%s.wav\t%s\t%s\n' "$name" "$family" "$split" >> "$gm"
  done
done
echo "General MIDI clips: $(grep -vc '^#' "$gm") in $gm"
