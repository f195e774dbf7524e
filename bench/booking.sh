#!/usr/bin/env bash
# Only the booking benchmarks of `make bench` (bench/hallq_booking.py): pgbench baselines of the
# bare booking transaction, HTTP booking spread over 2,000 slots and on one hot slot at release,
# and a hall's week of availability. About 5-7 minutes. Same needs, knobs and output as
# bench/run.sh (BENCH_BOOKING_PARTS picks parts, e.g. BENCH_BOOKING_PARTS=pgbench,hot); the
# run's section in bench/RESULTS.md replaces the same day's, as any partial run of run.sh does.
exec bash "$(dirname "$0")/run.sh" booking "$@"
