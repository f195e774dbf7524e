#!/usr/bin/env bash
# Generate the offline Mandarin voice segments used by the display board
# (hallq/web/static/web/announcer.js) with espeak-ng + sox.
#
#   apt-get install -y espeak-ng sox libsox-fmt-mp3   # libsox-fmt-mp3 for .mp3
#   scripts/make_voice.sh [OUT_DIR]
#
# Environment overrides:
#   VOICE   espeak-ng voice       (default cmn-latn-pinyin, see note below)
#   RATE    words per minute      (default 135; espeak default 175 is rushed for a hall PA)
#   PITCH   0-99                  (default 45)
#   FORMAT  mp3 | ogg | wav       (default: mp3 if this sox can write it,
#                                  else ogg, else wav)
#
# Why "cmn-latn-pinyin" and not plain "cmn": in espeak-ng 1.51 (Debian 12) the
# "cmn" voice (Latin text read as English) turns each Han character into
# tone-numbered pinyin and then reads the tone digit in English, so 请 comes
# out as "qing three". "cmn-latn-pinyin" gives the correct Mandarin for Han
# characters, and both voices read a lone Latin capital the same way
# (A = "ei", B = "bi", W = "da-bu-liu"), which is how letters are said in
# Chinese service halls.
#
# Output: one short file per segment (leading/trailing silence trimmed, peak
# normalised, mono 22.05 kHz) plus manifest.json {key: {file, ms, text}}.
# The output is deterministic for a given espeak-ng/sox version; the files
# are committed so machines without espeak-ng still have them.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:-$here/../hallq/web/static/web/voice}"
VOICE="${VOICE:-cmn-latn-pinyin}"
RATE="${RATE:-135}"
PITCH="${PITCH:-45}"
SR=22050

for tool in espeak-ng sox; do
  command -v "$tool" >/dev/null || {
    echo "make_voice.sh: $tool not found (apt-get install -y espeak-ng sox libsox-fmt-mp3)" >&2
    exit 1
  }
done

if [ -z "${FORMAT:-}" ]; then
  fmts="$(sox -h 2>/dev/null | sed -n 's/^AUDIO FILE FORMATS: //p')"
  case " $fmts " in
    *" mp3 "*) FORMAT=mp3 ;;
    *" ogg "*) FORMAT=ogg ;;
    *) FORMAT=wav ;;
  esac
fi
case "$FORMAT" in
  mp3) ENC=(-C 40) ;;            # 40 kbit/s CBR, plenty for 22 kHz mono speech
  ogg) ENC=(-C 3) ;;             # vorbis quality 3
  wav) ENC=(-b 16) ; SR=16000 ;; # 16 kHz mono 16-bit
  *) echo "make_voice.sh: unknown FORMAT $FORMAT" >&2; exit 1 ;;
esac

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

stage="$tmp/out"   # build here; replace the old files only if all went well
mkdir -p "$stage"

entries=()   # "key<TAB>file<TAB>ms<TAB>text"

# Trim leading/trailing silence (below -54 dBFS, keeping soft initials such
# as s/sh/x) and peak-normalise to -1 dBFS; finish() then adds 4 ms fades and
# 10 ms of padding on each side against clicks.
TRIM=(silence 1 0.005 0.2% reverse silence 1 0.005 0.2% reverse)

finish() { # finish KEY TEXT SRC_WAV [effects...]
  local key="$1" text="$2" src="$3"; shift 3
  local cut="$tmp/$key.cut.wav" clean="$tmp/$key.clean.wav" file="$key.$FORMAT"
  sox -R "$src" -r "$SR" -c 1 -b 16 "$cut" "$@"
  sox -R "$cut" "$clean" fade q 0.004 -0 0.004 pad 0.01 0.01
  sox -R "$clean" "${ENC[@]}" "$stage/$file"
  local ms
  ms="$(soxi -D "$clean" | awk '{printf "%d", $1 * 1000 + 0.5}')"
  entries+=("$key"$'\t'"$file"$'\t'"$ms"$'\t'"$text")
  printf '  %-8s %-10s %5d ms\n' "$key" "$text" "$ms"
}

say() { # say KEY TEXT
  local key="$1" text="$2" raw="$tmp/$1.raw.wav"
  espeak-ng -v "$VOICE" -s "$RATE" -p "$PITCH" -w "$raw" -- "$text"
  finish "$key" "$text" "$raw" "${TRIM[@]}" norm -1
}

echo "espeak-ng voice=$VOICE rate=$RATE pitch=$PITCH -> $OUT (*.$FORMAT)"

# Chime: two-tone "ding-dong" (E5 then C5, major third down), each a sine
# with a soft octave partial and a logarithmic decay, the second note
# starting while the first rings out.
sox -R -n -r "$SR" -c 2 "$tmp/ding.wav" synth 0.9 sine 659.26 sine 1318.51 \
  remix 1v0.8,2v0.2 fade l 0.005 0.9 0.85
sox -R -n -r "$SR" -c 2 "$tmp/dong.wav" synth 1.3 sine 523.25 sine 1046.50 \
  remix 1v0.8,2v0.2 fade l 0.005 1.3 1.25 pad 0.45
sox -R -m "$tmp/ding.wav" "$tmp/dong.wav" "$tmp/chime.raw.wav"
finish chime "叮咚" "$tmp/chime.raw.wav" norm -3

say qing   "请"
say recall "再次呼叫"
say hao    "号"
say dao    "到"
say window "号窗口办理"
say shi    "十"

digits=(零 一 二 三 四 五 六 七 八 九)
for d in 0 1 2 3 4 5 6 7 8 9; do
  say "$d" "${digits[$d]}"
done

for l in A B C D E F G H I J K L M N O P Q R S T U V W X Y Z; do
  say "$l" "$l"
done

# manifest.json (keys in generation order)
{
  printf '{\n'
  printf '  "generator": "scripts/make_voice.sh",\n'
  printf '  "engine": "%s",\n' "$(espeak-ng --version | sed -n 's/^eSpeak NG text-to-speech: \([^ ]*\).*/espeak-ng \1/p')"
  printf '  "voice": "%s",\n  "rate": %s,\n  "pitch": %s,\n' "$VOICE" "$RATE" "$PITCH"
  printf '  "format": "%s",\n  "sampleRate": %s,\n' "$FORMAT" "$SR"
  printf '  "segments": {\n'
  n=${#entries[@]}; i=0
  for e in "${entries[@]}"; do
    IFS=$'\t' read -r key file ms text <<<"$e"
    i=$((i + 1)); sep=','; [ "$i" -eq "$n" ] && sep=''
    printf '    "%s": {"file": "%s", "ms": %s, "text": "%s"}%s\n' "$key" "$file" "$ms" "$text" "$sep"
  done
  printf '  }\n}\n'
} >"$stage/manifest.json"

# Replace previously generated audio (keeps README.md and anything else).
rm -f "$OUT"/*.mp3 "$OUT"/*.ogg "$OUT"/*.wav "$OUT"/manifest.json
cp "$stage"/* "$OUT"/

total="$(du -cb "$OUT"/*."$FORMAT" | tail -1 | cut -f1)"
echo "wrote ${#entries[@]} segments + manifest.json, $total bytes of audio"
