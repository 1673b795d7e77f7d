-- The alert decision: each scored window keeps its largest surprise and its corroborated evidence;
-- each alert says which rule raised it, the evidence and its threshold, and when its window closed
-- (so the delay from a window's close to its alert can be read off the alert).
ALTER TABLE scored_windows ADD COLUMN surprise double precision, ADD COLUMN evidence double precision;
CREATE INDEX scored_windows_late ON scored_windows (window_start) WHERE late_events > 0;
ALTER TABLE alerts
    ADD COLUMN detected_by text NOT NULL DEFAULT 'forest',
    ADD COLUMN evidence double precision,
    ADD COLUMN evidence_threshold double precision,
    ADD COLUMN closed_at timestamptz;
