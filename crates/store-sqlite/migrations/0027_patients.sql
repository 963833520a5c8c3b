-- Wardline schema: patients from the hospital's ADT feed (issue 15, HL7 v2 ADT A01/A02/A03/A08).
--
-- One row per patient, keyed by `<assigning authority>|<identifier>` (PID-3). `msg_ts` is the
-- message time (EVN-2, else MSH-7) the row was last written from: an update older than it is
-- refused as stale, so a delayed message never moves a patient back to an old bed. `ward`,
-- `room` and `bed` are where the patient is now (NULL once discharged).
CREATE TABLE patients (
    patient_key    TEXT PRIMARY KEY,
    display_name   TEXT,
    birth_date     TEXT,
    sex            TEXT,
    site           TEXT,
    ward           TEXT,
    room           TEXT,
    bed            TEXT,
    specialty      TEXT,
    admitted_ts    INTEGER,
    discharged_ts  INTEGER,
    msg_ts         INTEGER NOT NULL,
    updated_ts     INTEGER NOT NULL
) STRICT;
CREATE INDEX patients_in_bed ON patients (ward, room, bed) WHERE discharged_ts IS NULL;
