#!/usr/bin/env bash
# Runs the tests while every core is kept busy by a CPU burner (one busy loop per core), to catch
# tests whose outcome depends on how fast the machine answers.
#
#   bash scripts/test-under-load.sh                       # the whole suite (scripts/test.sh), 3 runs
#   bash scripts/test-under-load.sh --runs 5              # ... 5 runs
#   bash scripts/test-under-load.sh --files packages/dske-client/test/key-stock.test.ts --times 10
#   bash scripts/test-under-load.sh --files "a.test.ts b.test.ts" --times 3 -- --testNamePattern stock
#
# --files PATTERN (repeatable; a space-separated list works too) runs only those test files (jest
# path patterns) M times (--times, default 3) under the same load; arguments after -- go to jest.
# That mode runs jest directly: build first (scripts/setup.sh or pnpm -r build), as the system
# tests spawn the built dist. --burners K: K busy loops instead of one per core.
# Prints one summary line per run (passed/failed tests, wall time) and exits non-zero if a run
# failed. Each run's output is kept in a temporary directory (printed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }

runs=3
times=3
files=()
burners=""
jest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
    --times) times="${2:?--times needs a number}"; shift 2 ;;
    --files) read -r -a more <<<"${2:?--files needs a pattern}"; files+=("${more[@]}"); shift 2 ;;
    --burners) burners="${2:?--burners needs a number}"; shift 2 ;;
    --) shift; jest_args=("$@"); break ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$runs$times${burners:-0}" in *[!0-9]*) echo "--runs, --times and --burners take whole numbers" >&2; exit 2 ;; esac
if [ -z "$burners" ]; then
  burners="$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc 2>/dev/null || echo 2)"
fi

logs="$(mktemp -d -t dske-under-load-XXXXXX)"
burner_pids=()
stop_burners() {
  local pid
  for pid in "${burner_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${burner_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  burner_pids=()
}
trap stop_burners EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
for _ in $(seq 1 "$burners"); do
  sh -c 'while :; do :; done' &
  burner_pids+=("$!")
done
echo "under load: $burners CPU burner(s) on $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') core(s); logs in $logs"

# Prints "P passed, F failed" from a jest --json result file (or "no result").
counts() {
  node -e '
    try {
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const failed = r.testResults.flatMap((f) => f.assertionResults.filter((a) => a.status === "failed").map((a) => a.fullName));
      let line = `${r.numPassedTests} passed, ${r.numFailedTests} failed`;
      if (r.numRuntimeErrorTestSuites) line += `, ${r.numRuntimeErrorTestSuites} suite(s) did not run`;
      for (const f of failed) line += `\n    failed: ${f}`;
      console.log(line);
    } catch { console.log("no result"); }
  ' "$1"
}

failed_runs=0
total=0
if [ "${#files[@]}" -eq 0 ]; then
  total="$runs"
  for i in $(seq 1 "$runs"); do
    log="$logs/run-$i.log"
    start=$(date +%s)
    status=0
    bash scripts/test.sh >"$log" 2>&1 || status=$?
    secs=$(( $(date +%s) - start ))
    summary="$(grep -E '^jest: ' "$log" | tail -n 1 || true)"
    [ -n "$summary" ] || summary="no jest summary (type check or setup failed?)"
    if [ "$status" -eq 0 ]; then verdict=PASS; else verdict=FAIL; failed_runs=$((failed_runs + 1)); fi
    echo "run $i/$runs: $verdict  ${summary#jest: }  ${secs}s  ($log)"
    if [ "$status" -ne 0 ]; then grep -E '^\s+● ' "$log" | sort -u | sed 's/^/    /' || true; fi
  done
else
  total="$times"
  for i in $(seq 1 "$times"); do
    log="$logs/run-$i.log"
    json="$logs/run-$i.json"
    start=$(date +%s)
    status=0
    pnpm exec jest --json --outputFile="$json" "${jest_args[@]}" -- "${files[@]}" >"$log" 2>&1 || status=$?
    secs=$(( $(date +%s) - start ))
    if [ "$status" -eq 0 ]; then verdict=PASS; else verdict=FAIL; failed_runs=$((failed_runs + 1)); fi
    echo "run $i/$times: $verdict  $(counts "$json")  ${secs}s"
  done
fi
echo "under load: $((total - failed_runs))/$total runs passed"
[ "$failed_runs" -eq 0 ]
