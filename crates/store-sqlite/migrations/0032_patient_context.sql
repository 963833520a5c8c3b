-- Wardline schema: conversations about a patient (issue 16).
--
-- One row per tie of a conversation to a patient: `version` counts a conversation's ties
-- (1, 2, …); the current one has no `ended_ts`. `patient` is the patient as the EPR described
-- them when tied (JSON: id, name, birth date, NHS number, hospital number, place, encounter),
-- kept here behind the membership check, never in room state. `patient_id` (the EPR's Patient
-- id) finds the conversations about a patient.
CREATE TABLE room_patients (
    room_id     TEXT NOT NULL,
    version     INTEGER NOT NULL,
    patient_id  TEXT NOT NULL,
    patient     TEXT NOT NULL,
    tied_by     TEXT NOT NULL,
    tied_ts     INTEGER NOT NULL,
    ended_by    TEXT,
    ended_ts    INTEGER,
    PRIMARY KEY (room_id, version)
) STRICT;
CREATE UNIQUE INDEX room_patients_current ON room_patients (room_id) WHERE ended_ts IS NULL;
CREATE INDEX room_patients_by_patient ON room_patients (patient_id, tied_ts) WHERE ended_ts IS NULL;
