#!/usr/bin/env bash
# GET /metrics: valid Prometheus text exposition (0.0.4); between two scrapes
# the request counters move by exactly the requests made, by route pattern
# and status; the latency histogram counts them; the pool series and the
# schema version are there.
. "$(dirname "$0")/lib.sh"
start_server

# The scrapes use curl directly: `request` audits every body as JSON.
SCRAPES=0
scrape() {  # scrape FILE
    SCRAPES=$((SCRAPES + 1))
    curl -sS --max-time 5 -D "$1.headers" -o "$1" -w '%{http_code}' "$BASE_URL/metrics" \
        >"$1.status" 2>"$TMP/curl.err"
}

# check_format FILE: prints every violation of the text format (empty: valid).
# Also: every family has HELP and TYPE (once, before its samples), its samples
# are contiguous, no series repeats, histogram buckets are cumulative with
# increasing le, and the +Inf bucket equals _count. mawk-compatible.
check_format() {
    awk '
    function fail(msg) { printf "line %d: %s: %s\n", NR, msg, $0; bad++ }
    function family_of(n,   b) {
        if (n ~ /_(bucket|sum|count)$/) {
            b = n; sub(/_(bucket|sum|count)$/, "", b)
            if (type[b] == "histogram" || type[b] == "summary") return b
        }
        return n
    }
    BEGIN { bad = 0; last_family = "" }
    /^# HELP / {
        if ($3 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*$/) fail("bad metric name in HELP")
        if (help[$3]++) fail("second HELP")
        next
    }
    /^# TYPE / {
        if (NF != 4 || $4 !~ /^(counter|gauge|histogram|summary|untyped)$/) fail("bad TYPE line")
        if ($3 in type) fail("second TYPE")
        if (sampled[$3]) fail("TYPE after the samples")
        type[$3] = $4
        next
    }
    /^#/ || /^$/ { next }
    {
        line = $0
        if (!match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*/)) { fail("no metric name"); next }
        name = substr(line, 1, RLENGTH)
        rest = substr(line, RLENGTH + 1)
        labels = ""; others = ""; le = ""
        if (substr(rest, 1, 1) == "{") {
            rest = substr(rest, 2)
            ok = 1
            while (substr(rest, 1, 1) != "}") {
                if (!match(rest, /^[a-zA-Z_][a-zA-Z0-9_]*="/)) { ok = 0; break }
                lname = substr(rest, 1, RLENGTH - 2)
                rest = substr(rest, RLENGTH + 1)
                val = ""
                while (1) {
                    c = substr(rest, 1, 1)
                    if (c == "") { ok = 0; break }
                    if (c == "\\") {
                        e = substr(rest, 2, 1)
                        if (e != "\\" && e != "\"" && e != "n") { ok = 0; break }
                        val = val c e; rest = substr(rest, 3); continue
                    }
                    if (c == "\"") { rest = substr(rest, 2); break }
                    val = val c; rest = substr(rest, 2)
                }
                if (!ok) break
                if (lname in seenlabel) { ok = 0; break }
                seenlabel[lname] = 1
                labels = labels lname "=\"" val "\","
                if (lname == "le") le = val; else others = others lname "=\"" val "\","
                if (substr(rest, 1, 1) == ",") rest = substr(rest, 2)
                else if (substr(rest, 1, 1) != "}") { ok = 0; break }
            }
            for (k in seenlabel) delete seenlabel[k]
            if (!ok) { fail("malformed labels"); next }
            rest = substr(rest, 2)
        }
        if (rest !~ /^ [-+]?(([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?|Inf|NaN)( -?[0-9]+)?$/) {
            fail("malformed value"); next
        }
        split(substr(rest, 2), parts, " ")
        value = parts[1]
        fam = family_of(name)
        if (!(fam in type)) fail("no TYPE for " fam)
        if (!(fam in help)) fail("no HELP for " fam)
        if (fam != last_family) {
            if (done[fam]) fail("samples of " fam " are not contiguous")
            done[last_family] = 1
            last_family = fam
        }
        sampled[fam] = 1
        if (series[name "{" labels "}"]++) fail("repeated series")
        if (type[fam] == "counter" && value + 0 < 0) fail("negative counter")
        if (type[fam] == "histogram") {
            g = fam "{" others "}"
            if (name == fam "_bucket") {
                if (le == "") { fail("bucket without le"); next }
                lev = (le == "+Inf") ? 1e308 : le + 0
                if ((g in lastle) && lev <= lastle[g]) fail("le not increasing")
                if ((g in lastcnt) && value + 0 < lastcnt[g]) fail("buckets not cumulative")
                lastle[g] = lev; lastcnt[g] = value + 0
                if (le == "+Inf") inf[g] = value + 0
            } else if (name == fam "_count") {
                cnt[g] = value + 0
            } else if (name == fam "_sum") {
                sum[g] = 1
            }
        }
    }
    END {
        for (g in cnt) {
            if (!(g in inf)) { printf "histogram %s: no +Inf bucket\n", g; bad++ }
            else if (inf[g] != cnt[g]) { printf "histogram %s: +Inf bucket %s != count %s\n", g, inf[g], cnt[g]; bad++ }
            if (!(g in sum)) { printf "histogram %s: no _sum\n", g; bad++ }
        }
        for (g in inf) if (!(g in cnt)) { printf "histogram %s: no _count\n", g; bad++ }
        exit bad > 0
    }' "$1"
}

# value FILE SERIES: the value of one series, exactly as written (name{labels}).
value() {
    awk -v s="$2" '$1 == s { print $2; found = 1; exit } END { if (!found) print "" }' "$1"
}

# request_counts FILE: "series value" of every usersvc_http_requests_total
# series, except the /metrics route (the scrapes count themselves).
request_counts() {
    grep -E '^usersvc_http_requests_total\{' "$1" | grep -v 'route="/metrics"' | sort
}

# deltas A B: "series delta" for every series whose value changed.
deltas() {
    awk 'NR == FNR { a[$1] = $2; next }
         { d = $2 - ($1 in a ? a[$1] : 0); if (d != 0) printf "%s %d\n", $1, d }' \
        <(request_counts "$1") <(request_counts "$2") | sort
}

# ---------------------------------------------------------------------------
# The endpoint

scrape "$TMP/m0"
expect_eq "$(cat "$TMP/m0.status")" 200 "GET /metrics -> 200"
RESP_HEADERS=$TMP/m0.headers
expect_header Content-Type '^text/plain; version=0\.0\.4(; charset=utf-8)?$' \
    "GET /metrics: Content-Type text/plain; version=0.0.4"
expect_header X-Request-Id '^[A-Za-z0-9._-]{1,31}$' "GET /metrics: X-Request-Id"
errors=$(check_format "$TMP/m0")
expect_eq "$errors" "" "GET /metrics: valid text exposition format (first scrape)"
if command -v promtool >/dev/null; then
    check "promtool check metrics accepts it" bash -c "promtool check metrics <'$TMP/m0' >/dev/null 2>&1"
fi

for f in usersvc_http_requests_total:counter usersvc_http_request_duration_seconds:histogram \
         usersvc_db_pool_size:gauge usersvc_db_pool_open:gauge usersvc_db_pool_in_use:gauge \
         usersvc_db_pool_waiting:gauge usersvc_db_pool_acquires_total:counter \
         usersvc_db_pool_acquire_timeouts_total:counter usersvc_db_connects_total:counter \
         usersvc_db_connect_failures_total:counter usersvc_db_reconnects_total:counter \
         usersvc_db_batches_total:counter usersvc_db_batched_statements_total:counter \
         usersvc_schema_version:gauge; do
    check "TYPE ${f%%:*} ${f#*:}" grep -qx "# TYPE ${f%%:*} ${f#*:}" "$TMP/m0"
done

# ---------------------------------------------------------------------------
# Counters move by exactly the requests made

create_user metrics1                        # POST /users 201 (before the baseline)
id=$USER_ID
scrape "$TMP/m1"

for i in 1 2 3; do get /healthz; done                           # GET /healthz 200 x3
post /users '{"login":"metrics2"}'                              # POST /users 201
post /users '{"login":"METRICS2"}'                              # 409
post /users '{"login":"no spaces"}'                             # 422
post /users '{"login":"x"}' text/plain                          # 415
get "/users/$id"                                                # GET /users/{id} 200
get "/users/$id"                                                # 200
get /users/999999999                                            # 404
get '/users?limit=1'                                            # GET /users 200
get /nope                                                       # unmatched 404
get /users/1/x                                                  # unmatched 404
request PUT /healthz                                            # unmatched 405

EXPECTED=$(sort <<'EOF'
usersvc_http_requests_total{method="",route="unmatched",status="404"} 2
usersvc_http_requests_total{method="",route="unmatched",status="405"} 1
usersvc_http_requests_total{method="GET",route="/healthz",status="200"} 3
usersvc_http_requests_total{method="GET",route="/users",status="200"} 1
usersvc_http_requests_total{method="GET",route="/users/{id}",status="200"} 2
usersvc_http_requests_total{method="GET",route="/users/{id}",status="404"} 1
usersvc_http_requests_total{method="POST",route="/users",status="201"} 1
usersvc_http_requests_total{method="POST",route="/users",status="409"} 1
usersvc_http_requests_total{method="POST",route="/users",status="415"} 1
usersvc_http_requests_total{method="POST",route="/users",status="422"} 1
EOF
)

# A request is counted when its response has been sent, which can be a
# moment after curl has it: scrape until the counts settle (at most 3 s).
for i in $(seq 1 30); do
    scrape "$TMP/m2"
    [ "$(deltas "$TMP/m1" "$TMP/m2")" == "$EXPECTED" ] && break
    sleep 0.1
done
got=$(deltas "$TMP/m1" "$TMP/m2")
expect_eq "$got" "$EXPECTED" \
    "usersvc_http_requests_total moved by exactly the requests made (by route pattern and status)"
sleep 0.3
scrape "$TMP/m3"
expect_eq "$(deltas "$TMP/m2" "$TMP/m3")" "" "and nothing else moves while no request is made"
errors=$(check_format "$TMP/m3")
expect_eq "$errors" "" "GET /metrics: valid text exposition format (after traffic)"
check "routes are labelled by pattern, not by raw path (no route=\"/users/$id\")" \
    bash -c "! grep -q 'route=\"/users/$id\"' '$TMP/m3'"

h='usersvc_http_request_duration_seconds'
for r in '/healthz:3' '/users/{id}:3'; do
    route=${r%:*}
    n=${r##*:}
    lbl="method=\"GET\",route=\"$route\""
    c1=$(value "$TMP/m1" "${h}_count{$lbl}")
    c3=$(value "$TMP/m3" "${h}_count{$lbl}")
    expect_eq "$(( ${c3:-0} - ${c1:-0} ))" "$n" "${h}_count{route=\"$route\"} moved by $n"
    b1=$(value "$TMP/m1" "${h}_bucket{$lbl,le=\"+Inf\"}")
    b3=$(value "$TMP/m3" "${h}_bucket{$lbl,le=\"+Inf\"}")
    expect_eq "$(( ${b3:-0} - ${b1:-0} ))" "$n" "${h}_bucket{route=\"$route\",le=\"+Inf\"} moved by $n"
    s3=$(value "$TMP/m3" "${h}_sum{$lbl}")
    check "${h}_sum{route=\"$route\"} is a positive number of seconds ($s3)" \
        awk -v s="$s3" 'BEGIN { exit !(s + 0 > 0 && s + 0 < 60) }'
done

# ---------------------------------------------------------------------------
# Pool and schema

p='{pool="primary"}'
size=$(value "$TMP/m3" "usersvc_db_pool_size$p")
check "usersvc_db_pool_size$p is positive ($size)" test "${size:-0}" -gt 0
open_=$(value "$TMP/m3" "usersvc_db_pool_open$p")
check "usersvc_db_pool_open$p is between 1 and the pool size ($open_)" \
    test "${open_:-0}" -ge 1 -a "${open_:-0}" -le "${size:-0}"
expect_eq "$(value "$TMP/m3" "usersvc_db_pool_in_use$p")" 0 "usersvc_db_pool_in_use$p is 0 when idle"
expect_eq "$(value "$TMP/m3" "usersvc_db_pool_waiting$p")" 0 "usersvc_db_pool_waiting$p is 0 when idle"
a1=$(value "$TMP/m1" "usersvc_db_pool_acquires_total$p")
a3=$(value "$TMP/m3" "usersvc_db_pool_acquires_total$p")
# 201 + 409 + 3 reads + 1 list reach the database (422 and 415 do not).
check "usersvc_db_pool_acquires_total$p moved by at least 6 ($a1 -> $a3)" \
    test "$(( ${a3:-0} - ${a1:-0} ))" -ge 6
for c in usersvc_db_pool_acquire_timeouts_total usersvc_db_connect_failures_total \
         usersvc_db_reconnects_total; do
    expect_eq "$(value "$TMP/m3" "$c$p")" 0 "$c$p is 0 on a healthy database"
done
check "usersvc_db_connects_total$p is at least 1" \
    test "$(value "$TMP/m3" "usersvc_db_connects_total$p")" -ge 1
# Batches (on by default): the POST (every backend but MySQL) and the GETs
# by id went through batches, each carrying at least one statement.
bt1=$(value "$TMP/m1" "usersvc_db_batches_total$p")
bt3=$(value "$TMP/m3" "usersvc_db_batches_total$p")
bs3=$(value "$TMP/m3" "usersvc_db_batched_statements_total$p")
check "usersvc_db_batches_total$p moved ($bt1 -> $bt3)" test "${bt3:-0}" -gt "${bt1:-0}"
check "usersvc_db_batched_statements_total$p >= usersvc_db_batches_total$p ($bs3 >= $bt3)" \
    test "${bs3:-0}" -ge "${bt3:-1}"

# The schema version is the latest migration `migrate status` lists as applied.
run_cli migrate status --database "$DB_URL"
latest=$(grep -Eo '^[0-9]{4}_' "$CLI_OUT" | tr -d _ | sort -n | tail -n 1 | sed 's/^0*//')
backend=$(curl -s "$BASE_URL/readyz" | jq -r .database)
expect_eq "$(value "$TMP/m3" "usersvc_schema_version{backend=\"$backend\"}")" "${latest:-?}" \
    "usersvc_schema_version{backend=\"$backend\"} is the latest migration ($latest)"

# HEAD is answered like GET, without a body (curl: `request` audits for JSON).
code=$(curl -s -I -o "$TMP/head.out" -w '%{http_code}' --max-time 5 "$BASE_URL/metrics")
expect_eq "$code" 200 "HEAD /metrics -> 200"
