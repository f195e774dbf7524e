#!/usr/bin/env bash
# Only the notification benchmarks of `make bench` (bench/hallq_notifications.py): call-next →
# WeChat message latency (worker in the web process and in its own), delivery throughput of 1
# and 2 workers, and a hall at peak (1,000 bound tickets, 10 counters calling for 60 s) checked
# for missed and duplicate messages, all against hallq's WeChat stand-in. About 6 minutes. Same
# needs, knobs and output as bench/run.sh (BENCH_NOTIFY_PARTS picks parts, e.g.
# BENCH_NOTIFY_PARTS=latency,peak); the run's section in bench/RESULTS.md replaces the same
# day's, as any partial run of run.sh does.
exec bash "$(dirname "$0")/run.sh" notifications "$@"
