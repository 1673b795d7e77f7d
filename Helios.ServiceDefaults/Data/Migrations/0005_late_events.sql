-- Events that arrived after their window had closed: stored in events like any other, counted here
-- on the window they belonged to, so a person can see which results missed data.
ALTER TABLE scored_windows ADD COLUMN late_events integer NOT NULL DEFAULT 0;
