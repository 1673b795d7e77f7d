-- Every window the detector closed, once: scored or too small to score. The key makes replays
-- after a crash idempotent, and the newest row per service tells a restarted detector which
-- windows are already done, so it neither scores them twice nor rebuilds them from a partial replay.
CREATE TABLE scored_windows (
    service        text NOT NULL,
    window_start   timestamptz NOT NULL,
    window_end     timestamptz NOT NULL,
    event_count    integer NOT NULL,
    scored         boolean NOT NULL,
    features       double precision[],
    score          double precision,
    decision       double precision,
    is_anomaly     boolean NOT NULL DEFAULT false,
    alert_id       uuid,
    model_version  bigint,
    scored_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service, window_start)
);
