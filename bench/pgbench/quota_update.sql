-- The bare booking transaction the issue measured: a conditional quota UPDATE, then the
-- appointment INSERT only when it claimed a unit (4 round trips, the slot row locked from the
-- UPDATE to the COMMIT). :slot_count (set with -D) slots; 1 = one hot slot.
\set slot random(1, :slot_count)
\set citizen random(1, 100000000)
BEGIN;
WITH claimed AS (
    UPDATE bench_slot SET booked = booked + 1 WHERE id = :slot AND booked < quota RETURNING id
) SELECT count(*) AS claimed FROM claimed \gset
\if :claimed
INSERT INTO bench_appointment (slot_id, citizen_id, created_at) VALUES (:slot, :citizen, now());
\endif
COMMIT;
