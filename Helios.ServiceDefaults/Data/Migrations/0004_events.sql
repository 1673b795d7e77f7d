-- Every accepted event, once: the key includes its Kafka partition and offset, so a batch written
-- again after a crash adds nothing. A TimescaleDB hypertable (daily chunks, compressed after 7
-- days, kept 30) where the extension exists; daily range partitions otherwise, created by the
-- writer as days arrive.
DO $$
DECLARE
    timescale boolean := EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb');
BEGIN
    EXECUTE format($ddl$
        CREATE TABLE events (
            ts              timestamptz NOT NULL,
            service         text NOT NULL,
            level           smallint NOT NULL,
            message         text NOT NULL,
            latency_ms      double precision,
            endpoint        text,
            trace_id        text,
            span_id         text,
            metadata        jsonb,
            kafka_partition integer NOT NULL,
            kafka_offset    bigint NOT NULL,
            PRIMARY KEY (kafka_partition, kafka_offset, ts)
        ) %s$ddl$, CASE WHEN timescale THEN '' ELSE 'PARTITION BY RANGE (ts)' END);
    IF timescale THEN
        PERFORM create_hypertable('events', 'ts', chunk_time_interval => interval '1 day');
        ALTER TABLE events SET (timescaledb.compress, timescaledb.compress_segmentby = 'service');
        PERFORM add_compression_policy('events', interval '7 days');
        PERFORM add_retention_policy('events', interval '30 days');
    END IF;
END $$;
CREATE INDEX events_by_service_ts ON events (service, ts);

-- Per service and minute, kept up to date from exactly the rows each batch inserted: what
-- training, exports and the dashboard read instead of scanning events.
CREATE TABLE event_minutes (
    service         text NOT NULL,
    minute          timestamptz NOT NULL,
    events          bigint NOT NULL,
    errors          bigint NOT NULL,
    latency_count   bigint NOT NULL,
    latency_sum     double precision NOT NULL,
    latency_max     double precision,
    PRIMARY KEY (service, minute)
);
