-- Wardline schema: whether an integration's HL7 binding asks for the status of its alarms
-- (IHE PCD-05 Report Alert Status, `ORA^R41` to its `status_address`). Kept beside the binding's
-- JSON (`hl7`) so the write that queues a status report can tell, as it does for webhooks,
-- whether the system can receive it. Set with the binding; existing bindings ask for none.
ALTER TABLE integrations ADD COLUMN hl7_reports INTEGER NOT NULL DEFAULT 0 CHECK (hl7_reports IN (0, 1));
