-- An event's metadata kept as the text it arrived in (json), not parsed into jsonb: with the key and the B-tree gone
-- (0009, 0010), jsonb's input was a fifth of PostgreSQL's CPU per stored row (20.0 % of its samples in a storage
-- phase), and json's is a validation pass. Nothing in Helios reads the column; ->, ->> and the json functions work on
-- json as on jsonb, and metadata::jsonb gives the rest. A TimescaleDB hypertable with compression enabled cannot change
-- a column's type, so there it stays jsonb (the writer reads which it is).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        RAISE NOTICE 'events.metadata stays jsonb on the TimescaleDB hypertable';
    ELSE
        ALTER TABLE events ALTER COLUMN metadata TYPE json USING metadata::json;
    END IF;
END $$;
