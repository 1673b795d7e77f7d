-- Each stored event once, without a key on events. The primary key (partition, offset, ts) cost about a fifth of
-- PostgreSQL's CPU per stored row (20.5 % of its samples in a storage phase after migration 0009). Instead, each batch
-- moves its partitions' rows here forward in the transaction that stores its events: the offset after the last
-- message it read, and a fingerprint of that message. A batch read again after a crash or a rebalance leaves out the
-- messages below the partition's next_offset (EventWriter). Before a member trusts a row, it checks that the message
-- before next_offset is still the one fingerprinted (EventOffsetLedger): a topic deleted and created again, or a
-- development broker restarted while the database was kept, starts its offsets anew, and its events must not be taken
-- for stored ones.
CREATE TABLE event_offsets (
    topic            text NOT NULL,
    partition        integer NOT NULL,
    next_offset      bigint NOT NULL,
    last_fingerprint bigint NOT NULL,
    PRIMARY KEY (topic, partition)
);

ALTER TABLE events DROP CONSTRAINT events_pkey;
