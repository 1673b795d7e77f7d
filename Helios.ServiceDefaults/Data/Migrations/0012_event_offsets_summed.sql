-- Per-minute sums apart from the events. Appending each batch's sums to event_minutes_pending, and folding them,
-- cost PostgreSQL about 5.5 us of CPU per stored event (13.3-13.7 us a row with them, 7.7-8.2 without, in storage
-- phases of the pipeline benchmark), because 10,000 services put about one sum row in every two events. The storage
-- writer now sums the minutes of every batch it reads over about a second and writes them together, and this
-- column is their ledger: the next offset whose event's sums are not in the aggregates yet. A member writing sums
-- for messages from another offset (a rebalance's overlap) counts them again from the stored events (EventWriter).
-- Until this migration, a batch's sums went in its events' transaction: both ledgers stand at the same offset.
ALTER TABLE event_offsets ADD COLUMN summed_offset bigint NOT NULL DEFAULT 0;
UPDATE event_offsets SET summed_offset = next_offset;
