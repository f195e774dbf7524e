-- The bare booking tables for pgbench (bench/booking_pgbench.py runs these in a scratch database
-- it creates and drops). A slot with a quota and a booked count, for the conditional UPDATE
-- the issue measured; and hallq's own design next to it: one place row per unit of quota,
-- claimed with SKIP LOCKED (hallq/booking/locks.py, docs/concurrency.md "Booking quotas").
-- Foreign keys and the partial index are those of hallq's tables; its other indexes and
-- columns are left out: this is the database's floor, not hallq's transaction.
CREATE TABLE bench_slot (
    id integer PRIMARY KEY,
    quota integer NOT NULL,
    booked integer NOT NULL DEFAULT 0 CHECK (booked <= quota),
    is_open boolean NOT NULL DEFAULT true
);
CREATE TABLE bench_appointment (
    id bigserial PRIMARY KEY,
    slot_id integer NOT NULL REFERENCES bench_slot,
    citizen_id integer NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX bench_appointment_slot ON bench_appointment (slot_id);
CREATE TABLE bench_place (
    id bigserial PRIMARY KEY,
    slot_id integer NOT NULL REFERENCES bench_slot,
    number integer NOT NULL,
    appointment_id bigint UNIQUE REFERENCES bench_appointment,
    UNIQUE (slot_id, number)
);
CREATE INDEX bench_place_free ON bench_place (slot_id, number) WHERE appointment_id IS NULL;
-- 2,000 slots; quotas are set by each run (bench/booking_pgbench.py, reset before each).
INSERT INTO bench_slot (id, quota) SELECT g, 0 FROM generate_series(1, 2000) AS g;
