-- Use TimescaleDB where the server offers it (hypertables, compression and retention arrive with
-- event storage); plain PostgreSQL otherwise, with the same tables and queries.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS timescaledb;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'timescaledb is available but could not be created (%); using plain PostgreSQL', SQLERRM;
        END;
    END IF;
END $$;
