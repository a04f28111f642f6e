#!/bin/sh
# `make fuzz-long`: run each fuzz target for FUZZ_TIME seconds (default 120)
# on its corpus (fuzz/corpus/NAME) with its dictionary (fuzz/NAME.dict),
# one target at a time, then minimise the corpus with libFuzzer's -merge=1:
# the hand-written seeds (named files) stay, and of the inputs the fuzzer
# named by their SHA-1 (earlier runs' and this one's) only those that add
# coverage edges to the seeds are kept (-use_counters=0: hit counts do
# not count, which keeps a third of the files), so the corpus in the
# repository stays small. Prints a table; exits 1 if any target crashed (its input is kept
# as build/fuzz/long/NAME/crash-*).
#   FUZZ_TARGETS="dmarc sendmail"   a subset (names with or without fuzz_)
#   FUZZ_TIME=600                   seconds per target (0: only minimise)
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
	rc=0
	: > "$work/log"
	# New inputs go to the first folder; the corpus is only read.
	[ "$time" -gt 0 ] && { "$exe" $dict -max_total_time="$time" \
	    -print_final_stats=1 -timeout=20 -rss_limit_mb=2048 \
	    -artifact_prefix="$work/" "$work/new" "$corpus" \
	    > "$work/log" 2>&1; rc=$?; }
	secs=$(($(date +%s) - start))
	crashes=$(ls "$work" | grep -c -E '^(crash|leak|timeout|oom|slow-unit)-')
	if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
		crashes=1	# died without an artifact: see the log
	fi
	# Coverage of the run's last status line ("#N ... cov: C ft: F").
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$work/log" | tail -1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$work/log" | tail -1 | cut -d' ' -f2)
	mkdir -p "$work/min"
	for f in "$corpus"/*; do
		[ -f "$f" ] || continue
		basename "$f" | grep -qE '^[0-9a-f]{40}$' || cp "$f" "$work/min/"
	done
	if "$exe" -merge=1 -use_counters=0 -timeout=20 -rss_limit_mb=2048 \
	    "$work/min" "$corpus" "$work/new" > "$work/merge.log" 2>&1; then
		for f in "$corpus"/*; do
			basename "$f" | grep -qE '^[0-9a-f]{40}$' && rm -f "$f"
		done
		cp "$work/min"/* "$corpus"/
	else
		echo "fuzz-long: merge of $name failed, corpus left as it was" >&2
	fi
	added=$(($(ls "$corpus" | wc -l) - before))	# may be < 0
	if [ "$crashes" -ne 0 ]; then
		failed=1
		echo "fuzz-long: fuzz_$name FAILED, see $work/log" >&2
		grep -E '^(==[0-9]+==ERROR|invariant failed|SUMMARY)' "$work/log" | head -5 >&2
	fi
	row=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$(date -u +%F)" \
	    "$name" "$secs" "${execs:-0}" "${cov:-?}" "${ft:-?}" "$added" \
	    "$crashes")
	echo "$row" >> "$table"
	[ "$time" -gt 0 ] && echo "$row" >> "$out/results.tsv"
done

printf '%-22s %7s %11s %7s %7s %7s %7s\n' target seconds execs cov ft +corpus crashes
while IFS="$(printf '\t')" read -r _d name secs execs cov ft added crashes; do
	printf '%-22s %7s %11s %7s %7s %7s %7s\n' "$name" "$secs" "$execs" \
	    "$cov" "$ft" "$added" "$crashes"
done < "$table"
rm -f "$table"
exit $failed
