#!/bin/sh
# `make fuzz-long`: run each fuzz target for FUZZ_TIME seconds (default 120)
# on its corpus (fuzz/corpus/NAME) with its dictionary (fuzz/NAME.dict),
# one target at a time, then merge what it found back into the corpus with
# libFuzzer's -merge=1, which adds only inputs that reach new coverage (the
# corpus in the repository stays small). Prints a table; exits 1 if any
# target crashed (its input is kept as build/fuzz/long/NAME/crash-*).
#   FUZZ_TARGETS="dmarc sendmail"   a subset (names with or without fuzz_)
#   FUZZ_TIME=600                   seconds per target
# Results are also appended to build/fuzz/long/results.tsv (date, target,
# seconds, execs, cov, ft, new corpus files, crashes), for fuzz/README.md.
set -u

time=${FUZZ_TIME:-120}
bin=build/fuzz/bin
out=build/fuzz/long
mkdir -p "$out"

if [ -n "${FUZZ_TARGETS:-}" ]; then
	targets=$FUZZ_TARGETS
else
	targets=$(for f in fuzz/fuzz_*.c; do basename "$f" .c; done)
fi

table=$out/table.$$
: > "$table"
failed=0
for t in $targets; do
	name=${t#fuzz_}
	exe=$bin/fuzz_$name
	if [ ! -x "$exe" ]; then
		echo "fuzz-long: no target $exe (make fuzz-build)" >&2
		exit 2
	fi
	corpus=fuzz/corpus/$name
	work=$out/$name
	rm -rf "$work"
	mkdir -p "$corpus" "$work/new"
	dict=
	[ -f "fuzz/$name.dict" ] && dict=-dict=fuzz/$name.dict
	before=$(ls "$corpus" | wc -l)
	echo "== fuzz_$name: ${time}s" >&2
	start=$(date +%s)
	# New inputs go to the first folder; the corpus is only read.
	"$exe" $dict -max_total_time="$time" -print_final_stats=1 \
	    -timeout=20 -rss_limit_mb=2048 -artifact_prefix="$work/" \
	    "$work/new" "$corpus" > "$work/log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	crashes=$(ls "$work" | grep -c -E '^(crash|leak|timeout|oom|slow-unit)-')
	if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
		crashes=1	# died without an artifact: see the log
	fi
	# Coverage of the run's last status line ("#N ... cov: C ft: F").
	execs=$(sed -n 's/^stat::number_executed_runs: *//p' "$work/log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$work/log" | tail -1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$work/log" | tail -1 | cut -d' ' -f2)
	"$exe" -merge=1 -timeout=20 -rss_limit_mb=2048 "$corpus" "$work/new" \
	    > "$work/merge.log" 2>&1 || echo "fuzz-long: merge of $name failed" >&2
	added=$(($(ls "$corpus" | wc -l) - before))
	if [ "$crashes" -ne 0 ]; then
		failed=1
		echo "fuzz-long: fuzz_$name FAILED, see $work/log" >&2
		grep -E '^(==[0-9]+==ERROR|invariant failed|SUMMARY)' "$work/log" | head -5 >&2
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%F)" "$name" \
	    "$secs" "${execs:-0}" "${cov:-?}" "${ft:-?}" "$added" "$crashes" \
	    | tee -a "$out/results.tsv" >> "$table"
done

printf '%-22s %7s %11s %7s %7s %5s %7s\n' target seconds execs cov ft new crashes
while IFS="$(printf '\t')" read -r _d name secs execs cov ft added crashes; do
	printf '%-22s %7s %11s %7s %7s %5s %7s\n' "$name" "$secs" "$execs" \
	    "$cov" "$ft" "$added" "$crashes"
done < "$table"
rm -f "$table"
exit $failed
