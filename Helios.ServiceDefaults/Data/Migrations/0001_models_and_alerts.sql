-- Model registry: every trained model, one active per kind, append-only history.
CREATE TABLE models (
    version         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('events', 'traffic')),
    is_active       boolean NOT NULL DEFAULT false,
    feature_schema  jsonb NOT NULL,
    parameters      jsonb NOT NULL,
    threshold       double precision NOT NULL,
    training        jsonb NOT NULL,
    evaluation      jsonb NOT NULL DEFAULT '{}'::jsonb,
    payload         bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX models_one_active_per_kind ON models (kind) WHERE is_active;

CREATE TABLE model_history (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version  bigint NOT NULL,
    kind     text NOT NULL,
    action   text NOT NULL CHECK (action IN ('trained', 'activated', 'deactivated', 'deleted')),
    at       timestamptz NOT NULL DEFAULT now(),
    detail   jsonb NOT NULL DEFAULT '{}'::jsonb
);

-- Alerts: id is deterministic from service and window, so replays upsert instead of duplicating.
CREATE TABLE alerts (
    id                uuid PRIMARY KEY,
    service           text NOT NULL,
    severity          text NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    score             double precision NOT NULL,
    normalized_score  double precision NOT NULL,
    threshold         double precision NOT NULL,
    features          jsonb NOT NULL,
    top_features      jsonb NOT NULL,
    explanation       text NOT NULL,
    window_start      timestamptz NOT NULL,
    window_end        timestamptz NOT NULL,
    event_count       integer NOT NULL,
    model_version     bigint NOT NULL,
    detected_at       timestamptz NOT NULL,
    status            text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
    suppressed_count  integer NOT NULL DEFAULT 0,
    acknowledged_at   timestamptz,
    resolved_at       timestamptz,
    label             text CHECK (label IN ('true_positive', 'false_positive'))
);
CREATE INDEX alerts_by_service_window ON alerts (service, window_start DESC);
CREATE INDEX alerts_by_detected ON alerts (detected_at DESC);
