# bench/lib.sh -- what bench/run (embedded backends) and bench/s3
# (PostgreSQL + S3) share: the two servers, the clients' measures and the
# table's rows. Sourced; the caller sets ROOT, WORK, REG, CLIENT, BIG,
# SMALL_N, SMALL, CONC_N, CONC, SECS, IMAGE_MB and declares URL and PID
# (associative) and SAMPLERS (an array).

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Authentication on both sides (BENCH_AUTH=1) or on neither (the
# default). With it, each server's clients carry what real clients carry:
# CREDS[who] (user:password, for skopeo), AUTHENV[who] (for
# bench-ociclient: BENCH_BEARER or BENCH_BASIC) and AUTHHDR[who] (for wrk).
# cofferd: its default auth; skopeo fetches tokens from /oauth2/token,
# bench-ociclient and wrk send one registry token (HS256) minted up front
# for every repository the run uses. docker-registry: htpasswd auth, the
# only one it has without a separate token server; every request carries
# Basic credentials, checked against a bcrypt hash (htpasswd -B, the only
# hash it accepts).
BENCH_AUTH=${BENCH_AUTH:-0}
declare -A CREDS AUTHENV AUTHHDR

# The client side of a server's auth, for `env`: nothing without it.
auth_env() { # who
  if [[ -n ${AUTHENV[$1]:-} ]]; then echo "${AUTHENV[$1]}"; else echo BENCH_NONE=; fi
}

# cofferd with one registry; extra flags (the backends) after.
start_coffer() { # [cofferd flags...]
  mkdir -p "$WORK/coffer"
  # Without BENCH_AUTH, --insecure-no-auth: docker-registry then has none either.
  # Both listeners on free ports: the defaults (5000, 5001) are often taken,
  # e.g. by `make run`; cofferd logs "listening" only once both are bound.
  local open=(--insecure-no-auth)
  [[ $BENCH_AUTH == 1 ]] && open=()
  "$ROOT/build/cofferd" --data "$WORK/coffer" --listen 127.0.0.1:0 --mgmt-listen 127.0.0.1:0 \
    --registry "$REG" "${open[@]}" "$@" 2>"$WORK/cofferd.log" &
  PID[coffer]=$!
  local port= mport=
  for _ in $(seq 100); do
    port=$(grep '"msg":"listening"' "$WORK/cofferd.log" 2>/dev/null | grep -m1 '"api":"data"' | jq -r '.port // empty' || true)
    mport=$(grep '"msg":"listening"' "$WORK/cofferd.log" 2>/dev/null | grep -m1 '"api":"management"' | jq -r '.port // empty' || true)
    [[ -n $port && -n $mport ]] && break
    kill -0 "${PID[coffer]}" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n $port ]] || { cat "$WORK/cofferd.log" >&2; return 1; }
  URL[coffer]=http://127.0.0.1:$port
  [[ $BENCH_AUTH == 1 ]] || return 0
  local pass token r scopes=()
  pass=$(COFFER_URL=http://127.0.0.1:$mport COFFER_TOKEN="$(cat "$WORK/coffer/admin.token")" COFFER_TOKEN_FILE= \
    sh -c '"$1" acr update -n "$2" --admin-enabled true >/dev/null &&
      "$1" acr credential show -n "$2" --query "passwords[0].value" -o tsv' sh "$ROOT/build/coffer" "$REG")
  # every repository a run uses (bench/run's and bench/s3's)
  for r in big small conc m $(seq -f 'app%g' 1 "${REPS:-3}"); do
    scopes+=(--data-urlencode "scope=repository:$REG/$r:pull,push")
  done
  token=$(curl -sfG -u "$REG:$pass" "${scopes[@]}" "${URL[coffer]}/oauth2/token" | jq -r .token)
  [[ -n $token && $token != null ]] || { echo "bench: no registry token from cofferd" >&2; return 1; }
  CREDS[coffer]=$REG:$pass
  AUTHENV[coffer]=BENCH_BEARER=$token
  AUTHHDR[coffer]="Authorization: Bearer $token"
}

# docker-registry with the storage given (a YAML flow mapping; default:
# files under the work dir).
start_dist() { # [storage]
  local port storage=${1:-"{filesystem: {rootdirectory: $WORK/dist}, delete: {enabled: true}}"}
  port=$(free_port)
  mkdir -p "$WORK/dist"
  local auth=
  if [[ $BENCH_AUTH == 1 ]]; then
    local pass
    pass=$(openssl rand -hex 16)
    htpasswd -Bbn bench "$pass" >"$WORK/dist.htpasswd" 2>/dev/null
    auth="auth: {htpasswd: {realm: bench, path: $WORK/dist.htpasswd}}"
    CREDS[dist]=bench:$pass
    AUTHENV[dist]=BENCH_BASIC=bench:$pass
    AUTHHDR[dist]="Authorization: Basic $(printf 'bench:%s' "$pass" | base64 -w0)"
  fi
  cat >"$WORK/dist.yml" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: $storage
http: {addr: "127.0.0.1:$port"}
$auth
EOF
  # AWS_CA_BUNDLE (set on some machines) makes Distribution 2.8's S3
  # driver panic at start ("unsupported transport")
  env -u AWS_CA_BUNDLE docker-registry serve "$WORK/dist.yml" >"$WORK/dist.log" 2>&1 &
  PID[dist]=$!
  URL[dist]=http://127.0.0.1:$port
  # with auth on, /v2/ answers 401: any answer means it is up
  for _ in $(seq 100); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "${URL[dist]}/v2/") =~ ^(200|401)$ ]] && return 0
    sleep 0.1
  done
  return 1
}

# The lines of result (its "# " title left out) between the markers
# <!-- NAME:begin --> and <!-- NAME:end --> of doc, in place.
doc_fill() { # doc name result
  [[ -f $1 ]] && grep -q "<!-- $2:begin -->" "$1" || return 0
  awk -v f="$3" -v b="<!-- $2:begin -->" -v e="<!-- $2:end -->" '
    $0 == b {print; while ((getline l < f) > 0) if (l !~ /^# /) print l; skip = 1; next}
    $0 == e {skip = 0}
    !skip {print}' "$1" >"$WORK/doc-fill.md" && cp "$WORK/doc-fill.md" "$1"
}

hwm_mb() { awk '/^VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/${PID[$1]}/status"; }

# Peak anonymous RSS (heap and stacks: what the server allocates, without
# the shared libraries' pages that VmHWM also counts), sampled every 50 ms.
sample_anon() { # who
  local f=$WORK/anon-$1 pid=${PID[$1]}
  echo 0 >"$f"
  (
    max=0
    while [[ -r /proc/$pid/status ]]; do
      v=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
      if ((${v:-0} > max)); then
        max=$v
        echo "$max" >"$f"
      fi
      sleep 0.05
    done
  ) &
  SAMPLERS+=($!)
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "n/a"; else print a[int((NR + 1) / 2)]}'; }

# skopeo with a private, empty blob-info cache (it would otherwise remember
# blobs across runs and servers and mount instead of uploading).
skopeo_clean() {
  local cache
  cache=$(mktemp -d "$WORK/skopeo-cache-XXXXXX")
  mkdir -p /var/lib/containers/cache
  unshare -m sh -c 'mount --bind "$1" /var/lib/containers/cache && shift && exec skopeo "$@"' sh "$cache" "$@"
}

build_image() {
  local img=$WORK/image bundle=$WORK/bundle
  umoci init --layout "$img"
  umoci new --image "$img:v1"
  umoci unpack --rootless --image "$img:v1" "$bundle"
  mkdir -p "$bundle/rootfs/etc" "$bundle/rootfs/data"
  echo bench >"$bundle/rootfs/etc/motd"
  umoci repack --refresh-bundle --image "$img:v1" "$bundle"
  head -c "$((IMAGE_MB << 20))" /dev/urandom >"$bundle/rootfs/data/random.bin"
  umoci repack --image "$img:v1" "$bundle"
  rm -rf "$bundle"
  IMAGE_BYTES=$(du -sb "$img/blobs" | cut -f1)
}

mbs() { awk -v b="$1" -v a="$2" -v z="$3" 'BEGIN {printf "%.1f", b / (z - a) / 1e6}'; }

# Samples per server and measure: S[who,key] = " v1 v2 ..."; the table
# shows their median, R[who,key].
declare -A S R
add() { S[$1,$2]="${S[$1,$2]:-} $3"; }

# CPU seconds (user + system) process PID has used so far.
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f\n", ($14 + $15) / hz}' "/proc/$1/stat"; }

# Runs a bench-ociclient command (its JSON on stdout, with "bytes" and
# "cpu_s", the client's CPU over its timed part) and records the CPU
# seconds per GB it cost the server (S[who,key_scpu]) and the client
# (S[who,key_ccpu]): the pair is what the run's two-core bound is made of.
# The samples go to a file, as the caller runs this in $(...).
cpu_run() { # who key command...
  local who=$1 key=$2 s0 s1 out
  shift 2
  s0=$(proc_cpu "${PID[$who]}")
  out=$("$@") || return
  s1=$(proc_cpu "${PID[$who]}")
  echo "$out"
  jq -r --arg w "$who" --arg k "$key" --argjson s "$(awk -v a="$s0" -v b="$s1" 'BEGIN {print b - a}')" \
    'select(.bytes > 0) | "\($w) \($k)_scpu \($s / (.bytes / 1e9))\n\($w) \($k)_ccpu \(.cpu_s / (.bytes / 1e9))"' \
    <<<"$out" >>"$WORK/cpu-samples"
}

# The CPU samples cpu_run recorded, into S.
cpu_collect() {
  local who key v
  [[ -f $WORK/cpu-samples ]] || return 0
  while read -r who key v; do add "$who" "$key" "$v"; done <"$WORK/cpu-samples"
}

# The rate at which this machine writes $BIG into page cache it has not
# used yet, timed right before a server's 1 GiB push: every push writes
# its bytes through the page cache, so this bounds it, whatever the server
# computes. On a VM whose host takes back freed guest memory (free page
# reporting) that first touch costs a fault per page and swings with the
# memory's history (docs/performance.md), hence measured in the run, next
# to each push. Two writers (dd), each half of the file: the most the
# cores do when writing is all they do. The file stays until the run ends
# (so the next fill, like the next push, gets new memory) and is flushed
# outside the timing.
fill_rep() { # who rep
  local f=$WORK/fill-$1-$2 half=$((BIG_BYTES / 2)) t0 t1 ok=1
  t0=$(date +%s.%N)
  dd if=/dev/zero of="$f" bs=1M count="$half" iflag=count_bytes conv=notrunc status=none &
  dd if=/dev/zero of="$f" bs=1M count=$((BIG_BYTES - half)) seek="$half" \
    iflag=count_bytes oflag=seek_bytes conv=notrunc status=none || ok=0
  wait $! || ok=0
  t1=$(date +%s.%N)
  sync "$f"
  ((ok)) && add "$1" fill "$(mbs "$BIG_BYTES" "$t0" "$t1")"
  return 0
}

# One repetition of the throughput measures against one server. Every
# repetition runs each server in turn, so a slow phase of the shared machine
# hits both alike.
throughput_rep() { # who rep seed
  local who=$1 i=$2 seed=$3 u=${URL[$1]} out dg t0 t1 ae up=() down=()
  ae=$(auth_env "$who")
  [[ -n ${CREDS[$who]:-} ]] && up=(--dest-creds "${CREDS[$who]}") down=(--src-creds "${CREDS[$who]}")
  fill_rep "$who" "$i"
  if out=$(cpu_run "$who" push_big env "$ae" "$CLIENT" push "$u" "$REG/big" "$BIG" $((seed + i))); then
    add "$who" push_big "$(jq -r .mb_s <<<"$out")"
    dg=$(jq -r .digest <<<"$out")
    out=$(cpu_run "$who" pull_big env "$ae" "$CLIENT" pull "$u" "$REG/big" "$dg") &&
      add "$who" pull_big "$(jq -r .mb_s <<<"$out")"
  fi
  if out=$(env "$ae" "$CLIENT" push-many "$u" "$REG/small" $SMALL_N $SMALL $((seed + 100 + i))); then
    add "$who" push_small "$(jq -r .mb_s <<<"$out")"
    out=$(env "$ae" "$CLIENT" pull-many "$u" "$REG/small" $SMALL_N $SMALL $((seed + 100 + i))) &&
      add "$who" pull_small "$(jq -r .mb_s <<<"$out")"
  fi
  local ref=${u#http://}/$REG/app$i:v1 # a new repository each time: nothing to skip
  t0=$(date +%s.%N)
  if skopeo_clean copy -q --preserve-digests --dest-tls-verify=false "${up[@]}" "oci:$WORK/image:v1" "docker://$ref" >&2; then
    t1=$(date +%s.%N)
    add "$who" skopeo_push "$(mbs "$IMAGE_BYTES" "$t0" "$t1")"
    rm -rf "$WORK/pulled"
    t0=$(date +%s.%N)
    if skopeo_clean copy -q --preserve-digests --src-tls-verify=false "${down[@]}" "docker://$ref" "oci:$WORK/pulled:v1" >&2; then
      t1=$(date +%s.%N)
      add "$who" skopeo_pull "$(mbs "$IMAGE_BYTES" "$t0" "$t1")"
    fi
  fi
  if ((CONC_N > 0)); then
    out=$(cpu_run "$who" conc env "$ae" "$CLIENT" concurrent "$u" "$REG/conc" $CONC_N $CONC $((seed + 200 + 100 * i))) &&
      add "$who" conc "$(jq -r .mb_s <<<"$out")"
  fi
  return 0
}

# Manifest GET (wrk) and blob HEAD (bench-ociclient load) against one server.
latency() { # who seed
  local who=$1 u=${URL[$1]} out layer accept=application/vnd.oci.image.manifest.v1+json ae hdr=()
  ae=$(auth_env "$who")
  [[ -n ${AUTHHDR[$who]:-} ]] && hdr=(-H "${AUTHHDR[$who]}")
  out=$(env "$ae" "$CLIENT" manifest "$u" "$REG/m" latest "$2") || return 0
  layer=$(jq -r .layer <<<"$out")
  out=$(wrk -t2 -c32 -d"${SECS}s" --latency -H "Accept: $accept" "${hdr[@]}" "$u/v2/$REG/m/manifests/latest")
  echo "$out" >"$WORK/wrk-$who.txt"
  if ! grep -q 'Non-2xx' <<<"$out"; then
    R[$who,get_rps]=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
    R[$who,get_p50]=$(awk '$1 == "50%" {print $2}' <<<"$out" | to_ms)
    R[$who,get_p99]=$(awk '$1 == "99%" {print $2}' <<<"$out" | to_ms)
  fi
  if out=$(env "$ae" "$CLIENT" load "$u" HEAD "/v2/$REG/m/blobs/$layer" 32 "$SECS") && [[ $(jq -r .errors <<<"$out") == 0 ]]; then
    R[$who,head_rps]=$(jq -r .rps <<<"$out")
    R[$who,head_p50]=$(jq -r .p50_ms <<<"$out")
    R[$who,head_p99]=$(jq -r .p99_ms <<<"$out")
  fi
}

# wrk prints 23.41ms, 812.00us or 1.20s
to_ms() { awk '{v = $1; if (v ~ /us$/) {sub(/us/, "", v); v /= 1000} else if (v ~ /ms$/) {sub(/ms/, "", v)} else if (v ~ /s$/) {sub(/s/, "", v); v *= 1000} printf "%.2f", v}'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a + 0 > 0 && b + 0 > 0) printf "%.2f×", a / b; else print "n/a"}'; }
row() { # label key target
  printf '| %s | %s | %s | %s | %s |\n' "$1" "${R[coffer,$2]:-n/a}" "${R[dist,$2]:-n/a}" "$(ratio "${R[coffer,$2]:-}" "${R[dist,$2]:-}")" "$3"
}
frac() { awk -v a="$1" -v b="$2" 'BEGIN {if (a + 0 > 0 && b + 0 > 0) { f = 100 * a / b; printf(f < 10 ? "%.1f%%" : "%.0f%%", f) } else print "n/a"}'; }

