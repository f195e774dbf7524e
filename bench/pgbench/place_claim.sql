-- hallq's own booking statements (hallq/booking/locks.py claim_free_place, then
-- services.appointment_book): claim the first free place of the slot, passing over places
-- other transactions are claiming (SKIP LOCKED), insert the appointment, give it the place.
-- When no place is free the claim returns nothing and the transaction ends: "full".
-- :slot_count (set with -D) slots; 1 = one hot slot.
\set slot random(1, :slot_count)
\set citizen random(1, 100000000)
BEGIN;
WITH free AS (
    SELECT p.id FROM bench_place p JOIN bench_slot s ON s.id = p.slot_id
     WHERE p.slot_id = :slot AND p.appointment_id IS NULL AND s.is_open
     ORDER BY p.number LIMIT 1
       FOR NO KEY UPDATE OF p SKIP LOCKED
) SELECT coalesce(max(id), 0) AS place FROM free \gset
\if :place
INSERT INTO bench_appointment (slot_id, citizen_id, created_at)
    VALUES (:slot, :citizen, now()) RETURNING id AS appointment \gset
UPDATE bench_place SET appointment_id = :appointment WHERE id = :place;
\endif
COMMIT;
