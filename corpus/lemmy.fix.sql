
-- Fixed by hand (corpus): the up drops this index; put it back.
CREATE UNIQUE INDEX idx_activity_ap_id ON activity (ap_id);
