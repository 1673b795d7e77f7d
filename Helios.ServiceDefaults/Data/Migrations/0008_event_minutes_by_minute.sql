-- Readers of event_minutes ask for a time range over every service (the dashboard's last hour, exports of the
-- last days) and for the latest minute stored; the key (service, minute) cannot answer either without reading
-- the whole table. The fold inserts one row per service and minute, so this index costs it one more entry each.
CREATE INDEX event_minutes_folded_by_minute ON event_minutes_folded (minute);
