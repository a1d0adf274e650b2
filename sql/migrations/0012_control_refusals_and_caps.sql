-- Refused commands are audited beside issued ones: a person's request the control plane turned
-- down (an unknown command to resume, a throttle without its rate, a body that is no command) and
-- a command on the control topic that failed verification (forged, unknown key, unsigned).
-- Refused rows take no place in the log (`seq` 0) and are never served to guards. `action`
-- becomes free text: a refused request may name an action that does not exist.
ALTER TABLE control_commands
    ADD COLUMN IF NOT EXISTS status Enum8('issued' = 1, 'refused' = 2) DEFAULT 'issued',
    ADD COLUMN IF NOT EXISTS refusal String DEFAULT '',
    MODIFY COLUMN action LowCardinality(String);

-- Rules also request caps (the headroom under a blocking budget, for guards' pre-call estimates).
ALTER TABLE command_requests
    MODIFY COLUMN action Enum8('block' = 1, 'throttle' = 2, 'downgrade' = 3, 'cap' = 5);
